"""``GET``/``POST /topup/{token}``: the personal top-up page, and off to the provider.

The token is checked on both: an expired or tampered link shows a page
that says so and changes nothing. A submitted form creates the payment at
the provider, records it (account, amount, provider id) and answers 303 to
the provider's page. The test provider completes at once: its signed
webhook goes through the same handler as a provider's delivery.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Final

from aiohttp import web
from multidict import CIMultiDict, MultiDictProxy

from payments.accounts.currency import choose_currency, parse_currency
from payments.cards.saving import customer_of
from payments.clock import utcnow
from payments.errors import NotYetDurable, PaymentsError
from payments.money import InvalidAmount, Money
from payments.topup.checkout import PendingPayment
from payments.topup.flow import topup_amount, topup_refusal
from payments.topup.providers import InstantProvider, PaymentRequest, Provider, ProviderError
from payments.web.links import BadLink, LinkProblem, TopupLink, read_link
from payments.web.pages import Method, message_page, topup_page
from payments.web.state import CARDS, CONFIG, PRESETS, PROVIDERS, STORE
from payments.web.webhooks import process_webhook

log = logging.getLogger("accountbot.web.topup")

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]

HEADERS: Final = {
    "Cache-Control": "no-store",
    # The token in the address must not leak to the provider through Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
}
LINK_PAGES: Final = {
    LinkProblem.EXPIRED: (
        410,
        "This link has expired",
        "Top-up links work for a limited time. Send 'topup' to the bot for a new one.",
    ),
    LinkProblem.TAMPERED: (
        404,
        "This link is not valid",
        "The link is incomplete or was changed. Send 'topup' to the bot for a new one.",
    ),
}


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def _link(request: web.Request) -> TopupLink:
    secret = request.app[CONFIG].web.link_secret.reveal()
    return read_link(secret, request.match_info["token"], int(time.time()))


def bad_link(problem: LinkProblem) -> web.Response:
    log.info("top-up link refused: %s", problem.value)
    status, title, text = LINK_PAGES[problem]
    return html(message_page(title, text), status)


async def show_topup(request: web.Request) -> web.Response:
    try:
        link = _link(request)
    except BadLink as exc:
        return bad_link(exc.problem)
    refused = await topup_refusal(request.app[STORE], link.jid)
    if refused:
        return html(message_page("No top-up needed", refused), 409)
    currency = await request.app[STORE].currencies.of(link.jid)
    return await _form(request, link, link.amount(currency))


async def _form(
    request: web.Request,
    link: TopupLink,
    selected: Money | None,
    *,
    error: str = "",
    other: str = "",
    status: int = 200,
) -> web.Response:
    """The page in the account's currency (the same numbers in every currency)."""
    store = request.app[STORE]
    currency = await store.currencies.of(link.jid)
    config = request.app[CONFIG].in_currency(currency)
    methods = [Method(p.name, p.label) for p in request.app[PROVIDERS].values()]
    presets = [Money(p.units, currency) for p in request.app[PRESETS]]
    others: list[str] = []
    if not await store.ledger.money_arrived(link.jid):
        others = [c for c in config.billing.currencies if c != currency]
    page = topup_page(
        jid=link.jid,
        presets=presets,
        selected=selected if selected is not None and selected.currency == currency else None,
        methods=methods,
        minimum=config.web.min_amount,
        maximum=config.billing.max_amount,
        error=error,
        other=other,
        offer_saving=CARDS in request.app,
        currencies=others,
    )
    return html(page, status)


async def submit_topup(request: web.Request) -> web.Response:
    try:
        link = _link(request)
    except BadLink as exc:
        return bad_link(exc.problem)
    refused = await topup_refusal(request.app[STORE], link.jid)
    if refused:  # the account changed since the link was sent: it became a leaf, or closed
        return html(message_page("No top-up needed", refused), 409)
    form = await request.post()
    if wanted := _field(form, "set_currency"):
        return await _set_currency(request, link, wanted)
    other = _field(form, "other")
    currency = await request.app[STORE].currencies.of(link.jid)
    try:
        amount = _chosen_amount(request, link, form, currency)
        provider = _chosen_provider(request, form)
    except InvalidAmount as exc:
        return await _form(request, link, None, error=f"Amount: {exc}.", other=other, status=400)
    except LookupError:
        selected = link.amount(currency)
        return await _form(request, link, selected, error="Choose a way to pay.", status=400)
    saving = _field(form, "save_card") == "1" and provider.name == "stripe"
    try:
        url = await start_payment(request, provider, link.jid, amount, save_card=saving)
    except ProviderError as exc:
        log.error("creating a %s payment failed: %s", provider.name, exc)
        text = "The payment provider did not answer. Nothing was charged; please try again."
        return html(message_page("Please try again", text), 502)
    raise web.HTTPSeeOther(url, headers=HEADERS)


def _field(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value.strip()[:64] if isinstance(value, str) else ""


async def _set_currency(request: web.Request, link: TopupLink, wanted: str) -> web.Response:
    """Before the first payment: the account counts in another currency; the page again."""
    config = request.app[CONFIG]
    try:
        code = parse_currency(wanted, config.billing.currencies)
        await choose_currency(request.app[STORE], link.jid, code)
    except PaymentsError as exc:
        return await _form(request, link, None, error=str(exc), status=409)
    raise web.HTTPSeeOther(str(request.rel_url), headers=HEADERS)


def _chosen_amount(request: web.Request, link: TopupLink, form: Form, currency: str) -> Money:
    config = request.app[CONFIG].in_currency(currency)
    text = _field(form, "other") or _field(form, "amount")
    if not text:
        preset = link.amount(currency)
        if preset is None:
            raise InvalidAmount("choose or type an amount")
        return preset
    return topup_amount(text, config)


def _chosen_provider(request: web.Request, form: Form) -> Provider:
    providers = request.app[PROVIDERS]
    name = _field(form, "method")
    if not name and len(providers) == 1:
        return next(iter(providers.values()))
    return providers[name]  # KeyError (a LookupError) for an unknown or disabled method


async def start_payment(
    request: web.Request, provider: Provider, jid: str, amount: Money, *, save_card: bool = False
) -> str:
    """Create and record the payment; the address to send the user to. ``save_card``: paid
    as the account's customer at the provider, which keeps the card (saved cards)."""
    base = request.app[CONFIG].web.public_url.rstrip("/")
    desk = request.app.get(CARDS)
    customer = await customer_of(desk, jid) if save_card and desk is not None else ""
    order = PaymentRequest(
        jid=jid,
        amount=amount,
        order_id=f"top_{secrets.token_hex(12)}",
        return_url=f"{base}/topup/done",
        cancel_url=f"{base}/topup/{request.match_info['token']}",
        customer=customer,
        save_card=bool(customer),
    )
    checkout = await provider.create_payment(order)
    pending = PendingPayment(provider.name, checkout.provider_id, jid, amount, utcnow())
    await request.app[STORE].payments_in.record(pending)
    log.info("%s payment %s of %s for %s", provider.name, checkout.provider_id, amount, jid)
    if isinstance(provider, InstantProvider):
        headers, body = provider.completion(checkout)
        try:
            await process_webhook(request.app, provider, CIMultiDict(headers), body)
        except NotYetDurable:  # written; the bot confirms it once it is told
            return f"{base}/topup/done"
        return f"{base}/topup/done?status=paid"
    return checkout.url


async def done(request: web.Request) -> web.Response:
    if request.query.get("status") == "paid":
        text = "Your payment is complete. The bot will confirm it in the chat."
        return html(message_page("Payment received", text))
    text = "Thank you. The bot will tell you in the chat as soon as the payment is confirmed."
    return html(message_page("Thank you", text))

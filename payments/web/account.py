"""``/account/{token}``: the personal account page, its invoices, its ledger as CSV, its forms.

``GET`` shows. ``POST /account/{token}/{action}`` checks the form's token
(made for this link and this action), marks it used in Redis, runs the
action (``page_actions``: the bot's domain functions) and sends the browser
back to the page (303), which says what the form did. A repeat of a form,
or one without its token, changes nothing and says so. A link that expired,
was changed, is not an account link or names no account gets one page,
the same whatever the reason: it tells a stranger nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import Mapping
from functools import partial
from typing import Final

from aiohttp import web

from payments.clock import months_back, utcnow
from payments.config import Config
from payments.ledger.months import ledger_months
from payments.ledger.records import LedgerEntry
from payments.money import Money, plain_amount
from payments.web.account_page import Note, PageLinks, account_page, settle_actions
from payments.web.account_view import MONTHS_SHOWN, covered, gather, top_up_for
from payments.web.forms import FIELD, NONCE_RE, form_nonce, form_token
from payments.web.invoice_page import confirm_page, form_page, invoice_page
from payments.web.links import AccountLink, BadLink, card_url, read_account_link, topup_url
from payments.web.page_actions import ACTIONS, Action, Confirm, Outcome, Submission, run_action
from payments.web.pages import message_page
from payments.web.state import CARDS, CONFIG, STORE

log = logging.getLogger("accountbot.web.account")

HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the link in the address must not leak
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
REFUSED: Final = (
    "This link does not work",
    "It has expired or is not a valid account link. Send 'account' to the bot for a new one.",
)
PERIOD_RE: Final = re.compile(r"[0-9]{6}", re.ASCII)
MONTH_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)
MAX_FIELD: Final = 200
CSV_COLUMNS: Final = ("date", "amount", "currency", "balance", "after", "kind", "reason", "ref")
SPREADSHEET_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")
MARK_MARGIN: Final = 60  # seconds a form's mark outlives its link


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def refused() -> web.Response:
    return html(message_page(*REFUSED), 404)


async def _link(request: web.Request) -> AccountLink | None:
    """The request's link when it is a valid account link of an existing account."""
    secret = request.app[CONFIG].web.link_secret.reveal()
    try:
        link = read_account_link(secret, request.match_info["token"], int(time.time()))
    except BadLink as exc:
        log.info("account link refused: %s", exc.problem.value)
        return None
    if await request.app[STORE].accounts.get(link.jid) is None:
        log.info("account link refused: no account")
        return None
    return link


def page_url(config: Config, request: web.Request) -> str:
    return f"{config.web.public_url.rstrip('/')}/account/{request.match_info['token']}"


def _links(request: web.Request, link: AccountLink) -> PageLinks:
    config = request.app[CONFIG]
    secret = config.web.link_secret.reveal()

    def top_up(amount: Money | None) -> str:
        preset = top_up_for(amount, config) if amount is not None else None
        return topup_url(config, link.jid, utcnow(), preset)

    return PageLinks(
        page_url(config, request),
        partial(form_token, secret, link),
        top_up,
        link.operator,
        card_url(config, link.jid, utcnow()) if CARDS in request.app else "",
    )


async def show_account(request: web.Request) -> web.Response:
    link = await _link(request)
    if link is None:
        return refused()
    view = await gather(request.app[STORE], request.app[CONFIG], link.jid, utcnow())
    if view is None:
        return refused()
    return html(account_page(view, _links(request, link), await _note(request, link)))


async def _note(request: web.Request, link: AccountLink) -> Note | None:
    """What the form named by ``?done=NONCE`` did (the page a form sends the browser to)."""
    nonce = request.query.get("done", "")
    if not NONCE_RE.fullmatch(nonce):
        return None
    stored = await request.app[STORE].page_forms.outcome(link.jid, nonce)
    outcome = Outcome.decode(stored) if stored else None
    return Note(outcome.text, outcome.ok) if outcome is not None else None


async def show_invoice(request: web.Request) -> web.Response:
    link = await _link(request)
    if link is None:
        return refused()
    store, config = request.app[STORE], request.app[CONFIG]
    period = request.match_info["period"]
    invoice = await store.billing.invoice(link.jid, period) if PERIOD_RE.fullmatch(period) else None
    back = page_url(config, request)
    if invoice is None:
        return html(form_page("No such invoice", "There is no invoice for that month.", back), 404)
    settle = ""
    if invoice.open and not link.operator:
        open_invoices = await store.billing.open_invoices(link.jid)
        balance = (await store.ledger.balances(link.jid)).total
        owed = sum((due for _, due in open_invoices), Money.zero(balance.currency))
        links = _links(request, link)
        settle = settle_actions(owed, covered(open_invoices, balance), balance, links)
    number = await store.numbers.of(link.jid)
    return html(invoice_page(invoice, config.invoice, number=number, back=back, settle=settle))


async def ledger_csv(request: web.Request) -> web.Response:
    link = await _link(request)
    if link is None:
        return refused()
    months = months_back(utcnow(), MONTHS_SHOWN)
    wanted = MONTH_RE.fullmatch(request.query.get("month", ""))
    if wanted is not None:
        months = [m for m in months if m == wanted[1] + wanted[2]]
    if not months:
        back = page_url(request.app[CONFIG], request)
        return html(form_page("No such month", "The ledger covers twelve months.", back), 404)
    found = await ledger_months(request.app[STORE].ledger, link.jid, months)
    entries = [e for month in found for e in month.entries]
    name = f"ledger-{months[0][:4]}-{months[0][4:]}"
    name += f"-to-{months[-1][:4]}-{months[-1][4:]}" if len(months) > 1 else ""
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}.csv"'}
    return web.Response(
        text=ledger_text(entries), content_type="text/csv", charset="utf-8", headers=headers
    )


def ledger_text(entries: list[LedgerEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.at.isoformat(),
                plain_amount(e.amount),
                e.amount.currency,
                e.balance.value,
                plain_amount(e.balance_after),
                e.kind.value,
                _cell(e.reason),
                _cell(e.ref),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Free text a spreadsheet must not take for a formula."""
    return "'" + text if text.startswith(SPREADSHEET_FORMULA) else text


# --- forms ------------------------------------------------------------------------------


async def submit(request: web.Request) -> web.Response:
    link = await _link(request)
    if link is None:
        return refused()
    config, store = request.app[CONFIG], request.app[STORE]
    back = page_url(config, request)
    form = _fields(await request.post())
    accepted = _accepted(request, link, form)
    if accepted is None:
        text = "It was not sent from this account page, or the page is out of date. "
        text += "Nothing was changed: open the page again and retry."
        return html(form_page("This form was not accepted", text, back), 403)
    action, nonce = accepted
    config = config.in_currency(await store.currencies.of(link.jid))  # the account's amounts
    ttl = link.expires_at - int(time.time()) + MARK_MARGIN
    before = await store.page_forms.take(link.jid, nonce, ttl)
    if before is not None:
        return html(form_page("Already sent", _repeat_text(before), back), 409)
    done = await run_action(action, Submission(store, config, link, form, nonce, utcnow()))
    return await _answer(request, link, nonce, done)


def _accepted(
    request: web.Request, link: AccountLink, form: Mapping[str, str]
) -> tuple[Action, str] | None:
    """The action and the token's nonce, when the form carries a token made for this link
    and this action (and the action is one this kind of link may do)."""
    action = ACTIONS.get(request.match_info["action"])
    if action is None or action.operator != bool(link.operator):
        return None
    secret = request.app[CONFIG].web.link_secret.reveal()
    nonce = form_nonce(secret, link, action.bound(form), form.get(FIELD, ""))
    return (action, nonce) if nonce is not None else None


async def _answer(
    request: web.Request, link: AccountLink, nonce: str, done: Outcome | Confirm
) -> web.Response:
    """Back to the page, which says what the form did; or an operator's confirmation."""
    config, forms = request.app[CONFIG], request.app[STORE].page_forms
    back = page_url(config, request)
    what = "asked" if isinstance(done, Confirm) else "done" if done.ok else "refused"
    log.info("account page %s for %s: %s", request.match_info["action"], link.jid, what)
    if isinstance(done, Outcome):
        await forms.record(link.jid, nonce, done.encode())
        raise web.HTTPSeeOther(f"{back}?done={nonce}", headers=HEADERS)
    await forms.record(link.jid, nonce, Outcome(True, f"It asked: {done.question}").encode())
    token = form_token(config.web.link_secret.reveal(), link, done.bound)
    return html(confirm_page(done.question, f"{back}/confirm", token, done.fields, back))


def _fields(posted: Mapping[str, object]) -> dict[str, str]:
    """The first value of each text field, trimmed and bounded."""
    fields: dict[str, str] = {}
    for name, value in posted.items():
        if isinstance(value, str):
            fields.setdefault(name, value.strip()[:MAX_FIELD])
    return fields


def _repeat_text(before: str) -> str:
    outcome = Outcome.decode(before)
    if outcome is None:
        return "This form was sent before and did not finish. Nothing more was changed."
    return f"This form was sent before. {outcome.text} Nothing more was changed."


def add_account_page(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/account/{token}", show_account),
            web.get("/account/{token}/invoice/{period}", show_invoice),
            web.get("/account/{token}/ledger.csv", ledger_csv),
            web.post("/account/{token}/{action}", submit),
        ]
    )

"""What the account page's forms do: each one call of the domain function the bot uses.

The holder's: ``pay`` (``billing.payment.pay_invoices``), ``plan``
(``billing.choice.choose_plan``), ``buy`` (``usage.flow.buy_pack``),
``autobuy`` (``usage.flow.set_autobuy``). An operator's: ``credit``
(``billing.payment.credit_account``), ``freeze`` and ``unfreeze``
(``billing.freezes.operator_freeze`` / ``operator_unfreeze``), each asked
first (``Confirm``) and done by ``confirm``, whose token is bound to exactly
the values shown. A domain refusal is an ``Outcome`` that is not ``ok``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from payments.accounts.freeze_store import Frozen
from payments.accounts.records import FreezeKind
from payments.billing.choice import choice_said, choose_plan
from payments.billing.cycle import Cycle
from payments.billing.freezes import operator_freeze, operator_unfreeze
from payments.billing.payment import pay_invoices
from payments.clock import day_label, month_label
from payments.config import Config
from payments.errors import InsufficientFunds, PaymentsError
from payments.money import InvalidAmount, format_exact, format_money, parse_money, plain_amount
from payments.stores import Store
from payments.topup.flow import operator_credit
from payments.usage.flow import Meter, buy_pack, set_autobuy
from payments.web.forms import digest
from payments.web.links import AccountLink

MAX_REASON: Final = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a form did, as the page says it (kept with the form's mark in Redis)."""

    ok: bool
    text: str

    def encode(self) -> str:
        return ("ok|" if self.ok else "refused|") + self.text

    @classmethod
    def decode(cls, stored: str) -> Outcome | None:
        state, bar, text = stored.partition("|")
        return cls(state == "ok", text) if bar else None


@dataclass(frozen=True, slots=True)
class Confirm:
    """An operator's action to ask once more: the question and what ``confirm`` posts."""

    question: str
    fields: tuple[tuple[str, str], ...]  # ("op", NAME) first, then its values

    @property
    def bound(self) -> str:
        return confirm_action(dict(self.fields))


@dataclass(frozen=True)
class Submission:
    store: Store
    config: Config
    link: AccountLink
    form: Mapping[str, str]
    nonce: str  # the form token's, unique: an operator's credit is made once per token
    now: datetime

    @property
    def jid(self) -> str:
        return self.link.jid

    def cycle(self) -> Cycle:
        return Cycle(self.store, self.config.billing, self.link.operator or self.jid)

    def meter(self) -> Meter:
        return Meter(self.store, self.config.usage, self.jid)


Run = Callable[[Submission], Awaitable[Outcome | Confirm]]


@dataclass(frozen=True, slots=True)
class Action:
    operator: bool  # on an operator's link only (else on the holder's only)
    bound: Callable[[Mapping[str, str]], str]  # the action its token must be made for
    run: Run


# --- the holder's ---------------------------------------------------------------------


async def pay(sub: Submission) -> Outcome | Confirm:
    done = await pay_invoices(sub.cycle(), sub.jid, sub.now)
    said = [
        f"Paid invoice {month_label(s.period)}: {format_money(s.voucher + s.prepaid)}."
        for s in done.settled
    ]
    if done.unfrozen:
        said.append("Your account is no longer frozen.")
    if done.missing is not None and done.missing.units:
        said.append(f"Your balance lacks {format_money(done.missing)} for the next invoice.")
        return Outcome(bool(done.settled), " ".join(said) + " Top up first.")
    return Outcome(True, " ".join(said) if said else "You owe nothing.")


async def plan(sub: Submission) -> Outcome | Confirm:
    choice = await choose_plan(sub.cycle(), sub.jid, sub.form.get("plan", ""), sub.now)
    return Outcome(True, choice_said(choice, "on this page"))


async def buy(sub: Submission) -> Outcome | Confirm:
    done = await buy_pack(sub.meter(), sub.jid, sub.form.get("pack", ""), sub.now, actor=sub.jid)
    grant, bought = done.grant, done.bought
    return Outcome(
        True,
        f"Bought {grant.pack}: {grant.quantity} {grant.resource} credits, valid until "
        f"{day_label(grant.expires_at)}. Paid {format_money(bought.voucher + bought.prepaid)}; "
        f"balance {format_money(bought.balance)}.",
    )


async def autobuy(sub: Submission) -> Outcome | Confirm:
    pack_id, on = sub.form.get("pack", ""), sub.form.get("state") == "on"
    auto, changed = await set_autobuy(sub.meter(), sub.jid, pack_id, on, sub.now)
    if not on:
        state = "is off" if changed else "was not on"
        return Outcome(True, f"Autobuy of {pack_id} {state}.")
    price = format_money(auto.price) if auto is not None else ""
    if not changed:
        return Outcome(True, f"Autobuy of {pack_id} was already on ({price} at every renewal).")
    return Outcome(True, f"Autobuy of {pack_id} is on: {price} at every renewal, with your plan.")


# --- operators: asked, then confirmed ------------------------------------------------------


def confirm_action(fields: Mapping[str, str]) -> str:
    """The action a confirmation's token is made for: the operation and its exact values."""
    op = fields.get("op", "")
    values = [fields.get(name, "") for name in OPERATIONS.get(op, ())]
    return f"confirm:{op}:{digest(op, *values)}"


def _reason(sub: Submission) -> str:
    reason = sub.form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise PaymentsError(f"A reason is required (at most {MAX_REASON} characters).")
    return reason


def _kind(sub: Submission) -> FreezeKind:
    try:
        return FreezeKind(sub.form.get("kind", ""))
    except ValueError:
        raise PaymentsError("Choose the kind of freeze.") from None


async def ask_credit(sub: Submission) -> Outcome | Confirm:
    config = sub.config.billing
    try:
        amount = parse_money(sub.form.get("amount", ""), config.currency, maximum=config.max_amount)
    except InvalidAmount as exc:
        return Outcome(False, f"Amount: {exc}.")
    reason = _reason(sub)
    question = f"Credit {format_money(amount)} to {sub.jid} ({reason})?"
    return Confirm(
        question, (("op", "credit"), ("amount", plain_amount(amount)), ("reason", reason))
    )


async def ask_freeze(sub: Submission) -> Outcome | Confirm:
    kind, reason = _kind(sub), _reason(sub)
    question = f"Freeze {sub.jid} ({kind.value}: {reason})?"
    return Confirm(question, (("op", "freeze"), ("kind", kind.value), ("reason", reason)))


async def ask_unfreeze(sub: Submission) -> Outcome | Confirm:
    kind = _kind(sub)
    question = f"Lift the {kind.value} freeze of {sub.jid}?"
    return Confirm(question, (("op", "unfreeze"), ("kind", kind.value)))


async def do_credit(sub: Submission) -> Outcome:
    amount = parse_money(sub.form.get("amount", ""), sub.config.billing.currency)
    outcome = await operator_credit(
        sub.store,
        sub.jid,
        amount,
        reason=_reason(sub),
        ref=f"page:{sub.nonce}",  # once per confirmation, whatever happens to the mark
        actor=sub.link.operator,
        at=sub.now,
        policy=sub.config.billing,
    )
    await sub.store.durability.confirm([sub.jid])  # "credited" only once it is safe
    said = [f"Credited {format_exact(amount)} to {sub.jid}."]
    said += [f"It paid invoice {month_label(s.period)}." for s in outcome.settlement.settled]
    balance = (await sub.store.ledger.balances(sub.jid)).total
    return Outcome(True, " ".join([*said, f"Balance: {format_exact(balance)}."]))


async def do_freeze(sub: Submission) -> Outcome:
    kind = _kind(sub)
    result = await operator_freeze(sub.cycle(), sub.jid, kind, _reason(sub), sub.now)
    if result is Frozen.NO_ACCOUNT:
        return Outcome(False, f"{sub.jid} has no active account.")
    state = "was already frozen" if result is Frozen.ALREADY else "is frozen"
    return Outcome(True, f"{sub.jid} {state} ({kind.value}).")


async def do_unfreeze(sub: Submission) -> Outcome:
    kind = _kind(sub)
    lifted = await operator_unfreeze(sub.cycle(), sub.jid, kind, sub.now)
    if lifted is None:
        return Outcome(False, f"{sub.jid} has no {kind.value} freeze.")
    return Outcome(
        True, f"Lifted the {kind.value} freeze of {sub.jid} (set by {lifted.who}: {lifted.why})."
    )


OPERATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "credit": ("amount", "reason"),
    "freeze": ("kind", "reason"),
    "unfreeze": ("kind",),
}
CONFIRMED: Final[Mapping[str, Callable[[Submission], Awaitable[Outcome]]]] = {
    "credit": do_credit,
    "freeze": do_freeze,
    "unfreeze": do_unfreeze,
}


async def confirm(sub: Submission) -> Outcome | Confirm:
    run = CONFIRMED.get(sub.form.get("op", ""))
    return await run(sub) if run is not None else Outcome(False, "Nothing to confirm.")


# --- the table of actions ------------------------------------------------------------


def _fixed(name: str) -> Callable[[Mapping[str, str]], str]:
    return lambda _form: name


ACTIONS: Final[Mapping[str, Action]] = {
    "pay": Action(False, _fixed("pay"), pay),
    "plan": Action(False, _fixed("plan"), plan),
    "buy": Action(False, lambda form: f"buy:{form.get('pack', '')}", buy),
    "autobuy": Action(
        False, lambda form: f"autobuy:{form.get('pack', '')}:{form.get('state', '')}", autobuy
    ),
    "credit": Action(True, _fixed("credit"), ask_credit),
    "freeze": Action(True, _fixed("freeze"), ask_freeze),
    "unfreeze": Action(True, lambda form: f"unfreeze:{form.get('kind', '')}", ask_unfreeze),
    "confirm": Action(True, confirm_action, confirm),
}


async def run_action(action: Action, sub: Submission) -> Outcome | Confirm:
    """Run one action; the domain's refusals become an Outcome that is not ok."""
    try:
        return await action.run(sub)
    except InsufficientFunds as exc:
        return Outcome(
            False, f"Not enough balance: {format_money(exc.missing)} missing. Top up first."
        )
    except PaymentsError as exc:
        return Outcome(False, str(exc))

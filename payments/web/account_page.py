"""The HTML of the account page: one document, a section per topic, server-rendered.

``account_page`` turns an ``AccountView`` into the page. Forms post to
``{page}/{action}`` with a token made for that action (``payments/web/forms.py``);
an operator's link shows the same figures with the operator's actions
instead of the holder's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from payments.accounts.records import AccountKind, FreezeKind
from payments.catalog.records import Pack, Plan
from payments.clock import day_label, month_label
from payments.ledger.months import LedgerMonth
from payments.ledger.records import Balance, LedgerEntry
from payments.money import Money, format_money
from payments.usage.credits import AUTOBUY_PREFIX
from payments.usage.rules import ResourceMonth
from payments.usage.texts import usage_line, used_summary
from payments.web.account_cards import cards_section
from payments.web.account_html import (
    Column,
    button,
    document,
    hidden,
    link_button,
    post_form,
    table,
)
from payments.web.account_view import AccountView, FrozenState, MemberUsage, NextStep
from payments.web.charts import Bar, bar_chart, month_short

FREEZE_KINDS: Final = tuple(kind.value for kind in FreezeKind)


@dataclass(frozen=True)
class PageLinks:
    """Where the page's links and forms go, and the tokens its forms carry."""

    page: str  # the page's own address (the personal link)
    token: Callable[[str], str]  # a form token for an action
    top_up: Callable[[Money | None], str]  # a new top-up link of this account
    operator: str = ""  # who acts, on an operator's link
    add_card: str = ""  # the page that saves a card

    def action(self, name: str) -> str:
        return f"{self.page}/{name}"

    def invoice(self, period: str) -> str:
        return f"{self.page}/invoice/{period}"

    def csv(self, month: str = "") -> str:
        return f"{self.page}/ledger.csv" + (f"?month={month_label(month)}" if month else "")


@dataclass(frozen=True, slots=True)
class Note:
    """What a submitted form did, shown at the top of the page it led back to."""

    text: str
    ok: bool = True


def account_page(view: AccountView, links: PageLinks, note: Note | None = None) -> str:
    sections = [
        _header(view, links),
        _note(note) if note is not None else "",
        _frozen(view, links) if view.frozen is not None else "",
        _side_by_side(_balance(view, links), _plan(view, links)),
        _this_month(view),
        _year(view),
        _side_by_side(
            _credits(view, links) if not view.is_leaf else "",
            _invoices(view, links) if view.invoices or view.owed else "",
        ),
        _ledger(view, links),
        _members(view.members) if view.members else "",
        _cards(view, links),
        # Notification choices go here once payments/ has them (SPEC §6).
        _operator(view, links) if links.operator else "",
    ]
    title = f"Account of {view.jid}" if links.operator else "Your account"
    return document(title, "".join(sections))


def _cards(view: AccountView, links: PageLinks) -> str:
    if view.cards is None:
        return ""
    return cards_section(view.cards, links.add_card, operator=bool(links.operator))


def _side_by_side(first: str, second: str) -> str:
    """Two sections in two columns on a wide screen (one after the other on a phone)."""
    if not (first and second):
        return first + second
    return f'<div class="columns">{first}{second}</div>'


def _m(amount: Money) -> str:
    return escape(format_money(amount))


def _section(anchor: str, title: str, body: str, *, klass: str = "") -> str:
    extra = f' class="{klass}"' if klass else ""
    return (
        f'<section id="{anchor}" aria-labelledby="{anchor}-h"{extra}>'
        f'<h2 id="{anchor}-h">{escape(title)}</h2>{body}</section>'
    )


# --- top ------------------------------------------------------------------------


def _header(view: AccountView, links: PageLinks) -> str:
    state = "closed" if view.account.closed else view.account.kind.value
    who = " · ".join(escape(part) for part in (view.jid, view.number, state) if part)
    heading = "Account of " + escape(view.jid) if links.operator else "Your account"
    operator = (
        f'<p class="operator">Operator view: your actions here are recorded as '
        f"{escape(links.operator)}.</p>"
        if links.operator
        else ""
    )
    return f'<h1>{heading}</h1><p class="who">{who}</p>{operator}{_contents(view, links)}'


def _contents(view: AccountView, links: PageLinks) -> str:
    """In-page links to each section shown."""
    targets = [("balance", "Balance"), ("plan", "Plan"), ("month", "This month")]
    targets += [("year", "Twelve months")]
    targets += [] if view.is_leaf else [("credits", "Credits")]
    targets += [("invoices", "Invoices")] if view.invoices or view.owed else []
    targets += [("ledger", "Ledger")]
    targets += [("accounts", "Accounts you pay for")] if view.members else []
    targets += [("cards-section", "Cards")] if view.cards is not None else []
    targets += [("operator", "Operator actions")] if links.operator else []
    items = "".join(f'<li><a href="#{a}">{escape(t)}</a></li>' for a, t in targets)
    return f'<nav aria-label="On this page"><ul>{items}</ul></nav>'


def _note(note: Note) -> str:
    role, klass = ("status", "note") if note.ok else ("alert", "note refused")
    return f'<div id="note" class="{klass}" role="{role}">{escape(note.text)}</div>'


def _frozen(view: AccountView, links: PageLinks) -> str:
    frozen = view.frozen
    assert frozen is not None
    why = "".join(f"<li>{escape(reason)}</li>" for reason in frozen.reasons)
    body = f"<p>Every service is blocked. Why:</p><ul>{why}</ul>"
    body += f"<p>{_next_step(view, frozen, links)}</p>"
    return _section("frozen", "Your account is frozen", body, klass="alert")


def _next_step(view: AccountView, frozen: FrozenState, links: PageLinks) -> str:
    if frozen.step is NextStep.CONTACT:
        return "Only an operator can lift this freeze: please contact support."
    if view.is_leaf:
        main = escape(view.paid_by[0] or "the account that paid for you")
        return f"It is lifted as soon as {main} pays what it owes."
    if frozen.step is NextStep.PAY:
        text = f"Your balance covers what is owed: paying {_m(frozen.amount)} lifts it."
        return text if links.operator else text + _pay_form(links, frozen.amount)
    text = f"A top-up of {_m(frozen.amount)} pays what is owed and lifts it."
    return text if links.operator else f"{text}<br>{_top_up(links, frozen.amount)}"


def _pay_form(links: PageLinks, amount: Money) -> str:
    label = f"Pay {format_money(amount)} from your balance"
    return post_form(links.action("pay"), links.token("pay"), button(label))


def _top_up(links: PageLinks, amount: Money | None) -> str:
    url = links.top_up(amount)
    text = f"Top up {format_money(amount)}" if amount is not None else "Top up"
    return link_button(url, text) if url else ""


# --- money and plan -------------------------------------------------------------------


def _figures(pairs: Sequence[tuple[str, str, str]]) -> str:
    items = "".join(
        f'<div><dt>{escape(name)}</dt><dd id="{ident}">{value}</dd></div>'
        for ident, name, value in pairs
    )
    return f'<dl class="figures">{items}</dl>'


def _balance(view: AccountView, links: PageLinks) -> str:
    balances = view.balances
    if view.is_leaf:
        main, number = view.paid_by
        body = f"<p>Your account is paid for by {escape(main or 'another account')}"
        body += f" ({escape(number)})." if number else "."
        if balances.total.units:
            body += _figures([("balance-prepaid", "Kept on your balance", _m(balances.total))])
        return _section("balance", "Balance", body)
    pairs = [("balance-prepaid", "Balance", _m(balances.prepaid))]
    if balances.voucher.units:
        pairs.append(("balance-voucher", "Voucher balance", _m(balances.voucher)))
    if view.owed.units:
        pairs.append(("owed", "Owed", _m(view.owed)))
    body = _figures(pairs)
    if balances.voucher.units:
        body += '<p class="hint">The voucher balance is spent first; it is never refunded.</p>'
    if view.payer and not links.operator:
        body += f'<p class="actions">{_top_up(links, None)}</p>'
    return _section("balance", "Balance", body)


def _allowances(plan: Plan) -> str:
    return ", ".join(f"{qty} {resource}" for resource, qty in sorted(plan.allowances.items()))


def _plan_text(plan: Plan, price: Money) -> str:
    text = f"{escape(plan.name)} ({escape(plan.id)}), {_m(price)} a month"
    allowances = _allowances(plan)
    return text + (f", including {escape(allowances)}" if allowances else "")


def _plan(view: AccountView, links: PageLinks) -> str:
    account = view.account
    if account.kind is AccountKind.TRIAL:
        until = day_label(account.trial_ends_at) if account.trial_ends_at else ""
        body = f"<p>Trial{' until ' + escape(until) if until else ''}.</p>"
    elif view.plan is not None:
        body = f'<p id="plan-now">{_plan_text(view.plan, view.plan_price)}.</p>'
    else:
        body = f"<p>Plan: {escape(account.plan)}.</p>"
    if view.is_leaf:
        body += "<p>Your plan is chosen by the account that pays for you.</p>"
    body += _renewal(view)
    if view.next_plan is not None:
        body += (
            f"<p>From your next renewal: {_plan_text(view.next_plan, view.next_plan.price)}.</p>"
        )
    if view.payer and view.plans and not links.operator:
        body += _plan_form(view, links)
    return _section("plan", "Plan", body)


def _renewal(view: AccountView) -> str:
    renewal = view.renewal
    if renewal is None:
        return ""
    text = (
        f'<p>Next renewal: <strong id="renewal-date">{escape(day_label(renewal.at))}'
        f'</strong>, <strong id="renewal-amount">{_m(renewal.amount)}</strong>.</p>'
    )
    if len(renewal.lines) < 2:
        return text
    rows = [
        (escape(_line_name(view.jid, ln.member, ln.plan)), _m(ln.amount)) for ln in renewal.lines
    ]
    columns = (Column("What"), Column("Amount", numeric=True))
    return text + table("What the next renewal charges", columns, rows)


def _line_name(jid: str, member: str, plan: str) -> str:
    if member == jid:
        return f"Your plan ({plan})"
    if member.startswith(AUTOBUY_PREFIX):
        return f"Credits: {member} (autobuy)"
    return f"{member} ({plan})"


def _plan_form(view: AccountView, links: PageLinks) -> str:
    current = view.next_plan.id if view.next_plan else (view.plan.id if view.plan else "")
    choices = "".join(
        f'<label class="choice"><input type="radio" name="plan" value="{escape(p.id)}"'
        f"{' checked' if p.id == current else ''}{' required' if i == 0 else ''}>"
        f"<span>{_plan_text(p, p.price)}"
        f"{' (yours)' if view.plan is not None and p.id == view.plan.id else ''}</span></label>"
        for i, p in enumerate(view.plans)
    )
    if view.account.kind is AccountKind.TRIAL:
        when = "It starts when your account becomes paid."
    else:
        when = "A new plan starts at your next renewal, at its price of that day."
    inner = (
        f"<fieldset><legend>Change plan</legend>{choices}</fieldset>"
        f'<p class="hint">{when}</p>{button("Choose this plan")}'
    )
    return post_form(links.action("plan"), links.token("plan"), inner)


# --- usage ------------------------------------------------------------------------


def _usage_bar(line: ResourceMonth) -> str:
    total = line.used + line.left
    if total <= 0:
        return '<div class="bar" aria-hidden="true"></div>'
    allowance = line.from_allowance * 100 // total
    credits = line.from_credits * 100 // total
    return (
        '<div class="bar" aria-hidden="true">'
        f'<span class="allowance" style="width:{allowance}%"></span>'
        f'<span class="credits" style="width:{credits}%"></span></div>'
    )


def _this_month(view: AccountView) -> str:
    month = month_label(view.month.month)
    blocks = "".join(
        f'<div class="usage"><p id="usage-{escape(line.resource)}">{escape(usage_line(line))}'
        f"</p>{_usage_bar(line)}</div>"
        for line in view.month.lines
    )
    legend = (
        '<p class="hint" aria-hidden="true"><span class="key allowance"></span>from the '
        'allowance <span class="key credits"></span>from credits <span class="key left">'
        "</span>left</p>"
    )
    body = f"<p>Usage in {escape(month)}, against what you have this month:</p>{blocks}{legend}"
    if view.account.frozen:
        body += "<p>Your account is frozen: every service is blocked.</p>"
    elif any(line.left <= 0 for line in view.month.lines):
        fix = "ask the account that pays for you" if view.is_leaf else "buy credits below"
        body += f"<p>A service with nothing left is blocked until next month: {fix}.</p>"
    return _section("month", "This month", body)


def _figure(caption: str, chart: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{chart}</figure>"


def _year(view: AccountView) -> str:
    span = f"{month_label(view.months[0])} to {month_label(view.months[-1])}"
    body = (
        f"<h3>Usage</h3>{_usage_year(view, span)}<h3>Spending</h3>{_spend_year(view, span)}"
        '<p class="hint">Charged: plans, accounts you pay for and credit packs, paid from '
        "your balance (what an open invoice still owes is not in it). Added: payments, "
        "vouchers and credits from the operator.</p>"
    )
    return _section("year", "The last twelve months", body)


def _usage_year(view: AccountView, span: str) -> str:
    """A chart per resource, and the table of all of them beside."""
    charts = "".join(
        _figure(
            f"{r} used",
            bar_chart(
                f"chart-{r}",
                f"{r} used each month, {span}",
                [Bar(month_short(u.month), u.of(r), str(u.of(r))) for u in view.usage_year],
                str,
            ),
        )
        for r in view.resources
    )
    rows = [
        (escape(month_label(u.month)), *(str(u.of(r)) for r in view.resources))
        for u in view.usage_year
    ]
    columns = (Column("Month"), *(Column(r, numeric=True) for r in view.resources))
    return (
        f'<div class="beside"><div class="small-charts">{charts}</div>'
        f"{table('Usage by month', columns, rows)}</div>"
    )


def _spend_year(view: AccountView, span: str) -> str:
    currency = view.balances.total.currency
    months = view.ledger_year
    chart = bar_chart(
        "chart-spend",
        f"Charged each month, {span}",
        [Bar(month_short(m.month), max(m.spent.units, 0), format_money(m.spent)) for m in months],
        lambda units: format_money(Money(units, currency)),
        least_step=10_000,  # gridlines a whole currency unit apart at least
    )
    rows = [(escape(month_label(m.month)), _m(m.spent), _m(m.added)) for m in months]
    columns = (Column("Month"), Column("Charged", True), Column("Added", True))
    return (
        f'<div class="beside">{_figure("Charged", chart)}'
        f"{table('Charged and added by month', columns, rows)}</div>"
    )


# --- credits and invoices ----------------------------------------------------------


def _credits(view: AccountView, links: PageLinks) -> str:
    rows = [
        (
            escape(g.resource),
            str(g.left),
            str(g.quantity),
            escape(day_label(g.expires_at)),
            escape(g.pack),
        )
        for g in view.grants
    ]
    columns = (
        Column("Resource"),
        Column("Left", True),
        Column("Of", True),
        Column("Expires", date=True),
        Column("Pack"),
    )
    body = "<p>Credits are used once the month's allowance is used up, earliest expiry first.</p>"
    body += table("Your credits by expiry", columns, rows) if rows else "<p>No credits.</p>"
    if view.packs:
        autobuys = {a.pack: a for a in view.autobuys}
        offers = "".join(
            _pack_offer(p, p.id in autobuys, view.payer and not links.operator, links)
            for p in view.packs
        )
        body += f"<h3>Packs</h3>{offers}"
    return _section("credits", "Credits", body)


def _pack_offer(pack: Pack, autobuy: bool, actions: bool, links: PageLinks) -> str:
    text = f"<p><strong>{escape(pack.id)}</strong>: {escape(pack.name)} for {_m(pack.price)}."
    text += " Autobuy is on: bought again at every renewal.</p>" if autobuy else "</p>"
    if not actions:
        return text
    state = "off" if autobuy else "on"
    buy = post_form(
        links.action("buy"),
        links.token(f"buy:{pack.id}"),
        hidden("pack", pack.id) + button(f"Buy {pack.name} for {format_money(pack.price)}"),
        inline=True,
    )
    auto = post_form(
        links.action("autobuy"),
        links.token(f"autobuy:{pack.id}:{state}"),
        hidden("pack", pack.id)
        + hidden("state", state)
        + button(f"Turn autobuy of {pack.id} {state}", quiet=True),
        inline=True,
    )
    return text + f'<div class="actions">{buy}{auto}</div>'


def _invoices(view: AccountView, links: PageLinks) -> str:
    body = ""
    if view.owed.units:
        body += f"<p>You owe <strong>{_m(view.owed)}</strong>.</p>"
        if not links.operator:
            body += settle_actions(view.owed, view.payable, view.balances.total, links)
    rows = [
        (
            f'<a href="{escape(links.invoice(i.period))}">{escape(month_label(i.period))}</a>',
            escape(i.status.value),
            _m(i.total),
            _m(i.due),
        )
        for i in view.invoices
    ]
    columns = (Column("Month"), Column("Status"), Column("Total", True), Column("Due", True))
    body += table("Invoices, newest first", columns, rows)
    body += '<p class="hint">Open an invoice to see or print it.</p>'
    return _section("invoices", "Invoices", body)


def settle_actions(owed: Money, payable: Money, balance: Money, links: PageLinks) -> str:
    """Pay from the balance what it covers; top up what it does not."""
    parts = [_pay_form(links, payable)] if payable.units else []
    if owed > balance:
        parts.append(f'<p class="actions">{_top_up(links, owed - balance)}</p>')
    return "".join(parts)


# --- the ledger and the accounts a main pays for ------------------------------------------


def _ledger(view: AccountView, links: PageLinks) -> str:
    months = "".join(
        _ledger_month(m, links, open_=(i == 0)) for i, m in enumerate(reversed(view.ledger_year))
    )
    body = (
        f'<p><a href="{escape(links.csv())}">Download the twelve months as CSV</a> '
        "(every entry, usage included).</p>"
        f"{months}"
    )
    return _section("ledger", "Ledger", body)


def _ledger_month(month: LedgerMonth, links: PageLinks, *, open_: bool) -> str:
    label = month_label(month.month)
    shown = month.money_entries
    summary = (
        f"{escape(label)}: charged {_m(month.spent)}, added {_m(month.added)} "
        f"({len(month.entries)} entries)"
    )
    rows = [_entry_row(e) for e in reversed(shown)]
    columns = (Column("Date", date=True), Column("Amount", True), Column("Kind"), Column("Reason"))
    inner = table(f"Ledger {label}", columns, rows) if rows else "<p>No money moved.</p>"
    metering = len(month.entries) - len(shown)
    if metering:
        inner += f'<p class="hint">{metering} usage and credit entries are in the CSV.</p>'
    inner += f'<p><a href="{escape(links.csv(month.month))}">CSV of {escape(label)}</a></p>'
    return f"<details{' open' if open_ else ''}><summary>{summary}</summary>{inner}</details>"


def _entry_row(entry: LedgerEntry) -> tuple[str, str, str, str]:
    sign = "+" if entry.amount.units > 0 else ""
    kind = entry.kind.value if entry.balance is Balance.PREPAID else f"{entry.kind.value} (voucher)"
    return (
        escape(day_label(entry.at)),
        sign + _m(entry.amount),
        escape(kind),
        escape(entry.reason),
    )


def _members(members: Sequence[MemberUsage]) -> str:
    rows = [
        (
            escape(m.member.jid)
            + (" (you)" if m.member.is_main else "")
            + f"<br>{escape(m.member.number or 'no number')}",
            f"{escape(m.member.plan)}<br>{_m(m.member.monthly)} a month",
            escape(used_summary(m.usage.lines)),
        )
        for m in members
    ]
    columns = (Column("Account and number"), Column("Plan"), Column("Used this month"))
    body = table("Every account you pay for, with its cost and this month's usage", columns, rows)
    return _section("accounts", "Accounts you pay for", body)


# --- operators -----------------------------------------------------------------------


def _operator(view: AccountView, links: PageLinks) -> str:
    credit = post_form(
        links.action("credit"),
        links.token("credit"),
        '<h3>Credit</h3><label for="op-amount">Amount</label>'
        '<input type="text" id="op-amount" name="amount" inputmode="decimal" '
        'autocomplete="off" required>'
        '<label for="op-credit-reason">Reason (written to the ledger)</label>'
        '<input type="text" id="op-credit-reason" name="reason" maxlength="200" required>'
        + button("Credit…"),
    )
    kinds = "".join(f'<option value="{k}">{k}</option>' for k in FREEZE_KINDS)
    freeze = post_form(
        links.action("freeze"),
        links.token("freeze"),
        f'<h3>Freeze</h3><label for="op-kind">Kind</label><select id="op-kind" name="kind">'
        f"{kinds}</select>"
        '<label for="op-freeze-reason">Reason (recorded with the freeze)</label>'
        '<input type="text" id="op-freeze-reason" name="reason" maxlength="200" required>'
        + button("Freeze…"),
    )
    lifts = "".join(
        post_form(
            links.action("unfreeze"),
            links.token(f"unfreeze:{kind.value}"),
            hidden("kind", kind.value) + button(f"Lift the {kind.value} freeze…", quiet=True),
            inline=True,
        )
        for kind in sorted(view.account.freezes)
    )
    unfreeze = f"<h3>Unfreeze</h3>{lifts or '<p>No freeze to lift.</p>'}"
    body = (
        '<p class="hint">Each action asks for a confirmation first.</p>'
        f'<div class="columns"><div>{credit}</div><div>{freeze}{unfreeze}</div></div>'
    )
    return _section("operator", "Operator actions", body)

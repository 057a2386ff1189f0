"""``accountbot admin show|credit|debit|refund|reconcile``: balances and the ledger."""

from __future__ import annotations

import argparse

from accountbot.common import (
    EXIT_OK,
    EXIT_REFUSED,
    Commands,
    common,
    config_of,
    opened,
    operator,
)
from payments.billing.payment import credit_account
from payments.config import Config
from payments.jid import normalise_jid
from payments.ledger.records import Balance, EntryKind, LedgerEntry
from payments.money import Money, format_money, parse_money
from payments.stores import Store


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:

    show = common(sub.add_parser("show", help="balances and ledger of an account"))
    show.add_argument("jid")
    show.add_argument("--entries", type=int, default=20, help="ledger entries to show")
    show.set_defaults(handler=show_account)

    for name, handler, verb in (("credit", credit, "add to"), ("debit", debit, "take from")):
        cmd = common(sub.add_parser(name, help=f"{verb} a balance, with a ledger entry"))
        cmd.add_argument("jid")
        cmd.add_argument("amount", help="like 20, 20.50, $20.50 or '20.50 USD'")
        cmd.add_argument("--reason", required=True, help="written to the ledger")
        cmd.add_argument("--ref", default="", help="idempotency key: the same ref applies once")
        cmd.add_argument("--voucher", action="store_true", help="the voucher balance, not prepaid")
        cmd.set_defaults(handler=handler)

    refund = common(sub.add_parser("refund", help="give prepaid money back to its owner"))
    refund.add_argument("jid")
    refund.add_argument("amount", help="like 20, 20.50, $20.50 or '20.50 USD'")
    refund.add_argument("--reason", required=True, help="written to the ledger")
    refund.add_argument("--ref", required=True, help="idempotency key: the refund is made once")
    refund.set_defaults(handler=refund_money)

    reconcile = common(sub.add_parser("reconcile", help="check every ledger against its balance"))
    reconcile.set_defaults(handler=reconcile_all)


async def show_account(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        balances = await store.ledger.balances(jid)
        entries = await store.ledger.entries(jid, newest_first=True, count=args.entries)
    print(jid)
    print(f"  currency {balances.prepaid.currency}")
    print(f"  prepaid  {format_money(balances.prepaid)}")
    print(f"  voucher  {format_money(balances.voucher)}")
    print(f"ledger, newest first ({len(entries)} shown):" if entries else "ledger: empty")
    for entry in entries:
        print("  " + describe_entry(entry))
    return EXIT_OK


def describe_entry(entry: LedgerEntry) -> str:
    sign = "+" if entry.amount.units > 0 else ""
    parts = [
        entry.at.strftime("%Y-%m-%d %H:%M"),
        f"{sign}{format_money(entry.amount)}",
        entry.balance.value,
        entry.kind.value,
        f"-> {format_money(entry.balance_after)}",
        entry.reason,
    ]
    if entry.ref:
        parts.append(f"[ref {entry.ref}]")
    if entry.actor:
        parts.append(f"by {entry.actor}")
    return "  ".join(parts)


def _balance(args: argparse.Namespace) -> Balance:
    return Balance.VOUCHER if args.voucher else Balance.PREPAID


async def amount_for(store: Store, config: Config, jid: str, text: str) -> Money:
    """An amount typed for ``jid``: in its currency (naming another one is refused)."""
    currency = await store.currencies.of(jid)
    return parse_money(text, currency, maximum=config.billing.in_currency(currency).max_amount)


async def credit(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        amount = await amount_for(store, config, jid, args.amount)
        outcome = await credit_account(
            store,
            jid,
            amount,
            reason=args.reason,
            kind=EntryKind.CREDIT,
            ref=args.ref,
            actor=operator(),
            balance=_balance(args),
            policy=config.billing,
        )
    applied, where = outcome.applied, _balance(args).value
    if not applied.applied:
        print(f"already applied (ref {args.ref}): {where} balance {applied.balance_after}")
    else:
        print(f"credited {amount} to {jid}: {where} balance {applied.balance_after}")
    return EXIT_OK


async def debit(args: argparse.Namespace) -> int:
    return await _take(args, EntryKind.DEBIT, args.ref, _balance(args), "debited")


async def refund_money(args: argparse.Namespace) -> int:
    """Money returned outside the service (a bank transfer, a provider's dashboard): taken
    from the prepaid balance with a ``refund`` entry, once per ``--ref``, never below zero."""
    return await _take(args, EntryKind.REFUND, f"refund:{args.ref}", Balance.PREPAID, "refunded")


async def _take(
    args: argparse.Namespace, kind: EntryKind, ref: str, balance: Balance, verb: str
) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        amount = await amount_for(store, config, jid, args.amount)
        applied = await store.ledger.debit(
            jid, amount, reason=args.reason, kind=kind, ref=ref, actor=operator(), balance=balance
        )
    where = f"{balance.value} balance {applied.balance_after}"
    if not applied.applied:
        print(f"already {verb} (ref {args.ref}): {where}")
    else:
        print(f"{verb} {amount} from {jid}: {where}")
    return EXIT_OK


async def reconcile_all(args: argparse.Namespace) -> int:
    """Every ledger against its balances; the totals held per currency (never added across)."""
    config = config_of(args)
    checked = bad = 0
    held: dict[str, tuple[int, Money]] = {}
    async with opened(config) as store:
        async for jid in store.ledger.accounts():
            checked += 1
            for m in await store.ledger.check(jid):
                bad += 1
                print(
                    f"MISMATCH {m.jid} {m.balance.value}: stored {format_money(m.stored)}, "
                    f"ledger sums to {format_money(m.ledger_sum)}"
                )
            total = (await store.ledger.balances(jid)).total
            count, before = held.get(total.currency, (0, Money.zero(total.currency)))
            held[total.currency] = (count + 1, before + total)
    for currency, (count, total) in sorted(held.items()):
        print(f"reconcile {currency}: {count} accounts, {format_money(total)} held")
    print(f"reconcile: {checked} accounts checked, {bad} mismatches")
    return EXIT_REFUSED if bad else EXIT_OK

"""``accountbot admin show|credit|debit|refund|reconcile``: balances and the ledger."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from typing import Final

from accountbot.admin_cards import refund_to_card
from accountbot.common import EXIT_OK, EXIT_REFUSED, Commands, common, config_of, opened, operator
from payments.config import Config
from payments.errors import NotYetDurable
from payments.jid import normalise_jid
from payments.ledger.records import Balance, EntryKind, LedgerEntry, Mismatch, sum_by_balance
from payments.money import Money, format_exact, parse_money
from payments.stores import Store
from payments.topup.flow import operator_credit

RECONCILE_PAGE: Final = 500  # accounts read in one round trip


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

    refund = common(
        sub.add_parser("refund", help="give prepaid money back to the cards that paid it")
    )
    refund.add_argument("jid")
    refund.add_argument("amount", help="like 20, 20.50, $20.50 or '20.50 USD'")
    refund.add_argument("--reason", required=True, help="written to the ledger")
    refund.add_argument("--ref", required=True, help="idempotency key: the refund is made once")
    refund.add_argument(
        "--outside",
        action="store_true",
        help="the money went back another way (a bank transfer): a ledger entry only",
    )
    refund.set_defaults(handler=refund_money)

    reconcile = common(sub.add_parser("reconcile", help="check every ledger against its balance"))
    reconcile.add_argument(
        "--archive",
        action="store_true",
        help="also add up the archived entries (reads the archive's files: slower)",
    )
    reconcile.set_defaults(handler=reconcile_all)


async def show_account(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        balances = await store.ledger.balances(jid)
        entries = await store.ledger.entries(jid, newest_first=True, count=args.entries)
    print(jid)
    print(f"  currency {balances.prepaid.currency}")
    print(f"  prepaid  {format_exact(balances.prepaid)}")
    print(f"  voucher  {format_exact(balances.voucher)}")
    print(f"ledger, newest first ({len(entries)} shown):" if entries else "ledger: empty")
    for entry in entries:
        print("  " + describe_entry(entry))
    return EXIT_OK


def describe_entry(entry: LedgerEntry) -> str:
    sign = "+" if entry.amount.units > 0 else ""
    parts = [
        entry.at.strftime("%Y-%m-%d %H:%M"),
        f"{sign}{format_exact(entry.amount)}",
        entry.balance.value,
        entry.kind.value,
        f"-> {format_exact(entry.balance_after)}",
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
        outcome = await operator_credit(
            store,
            jid,
            amount,
            reason=args.reason,
            ref=args.ref,
            actor=operator(),
            balance=_balance(args),
            policy=config.billing,
        )
        if not await confirmed(store, jid, args.ref):
            return EXIT_REFUSED
    applied, where = outcome.applied, _balance(args).value
    if not applied.applied:
        print(f"already applied (ref {args.ref}): {where} balance {applied.balance_after}")
    else:
        print(f"credited {amount} to {jid}: {where} balance {applied.balance_after}")
    return EXIT_OK


async def debit(args: argparse.Namespace) -> int:
    return await _take(args, EntryKind.DEBIT, args.ref, _balance(args), "debited")


async def refund_money(args: argparse.Namespace) -> int:
    """To the cards that paid it (``admin_cards``); with ``--outside``, money returned another
    way (a bank transfer): taken from the prepaid balance with a ``refund`` entry, once per
    ``--ref``, never below zero."""
    if not args.outside:
        return await refund_to_card(args)
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
        if not await confirmed(store, jid, args.ref):
            return EXIT_REFUSED
    where = f"{balance.value} balance {applied.balance_after}"
    if not applied.applied:
        print(f"already {verb} (ref {args.ref}): {where}")
    else:
        print(f"{verb} {amount} from {jid}: {where}")
    return EXIT_OK


async def confirmed(store: Store, jid: str, ref: str) -> bool:
    """Success is reported only once the change is on ``[redis] wait_replicas`` replicas;
    else say so (on stderr), and how to finish it safely."""
    try:
        await store.durability.confirm([jid])
    except NotYetDurable as exc:
        again = (
            f"run the same command again: --ref {ref} applies it once"
            if ref
            else f"check 'accountbot admin show {jid}' before running it again"
        )
        print(f"accountbot: {exc}; {again}", file=sys.stderr)
        return False
    return True


async def reconcile_all(args: argparse.Namespace) -> int:
    """Every ledger against its balances; the totals held per currency (never added across).
    Accounts are read a page at a time, each page in one round trip."""
    config = config_of(args)
    checked = bad = 0
    held: dict[str, tuple[int, Money]] = {}
    async with opened(config) as store:
        async for jids in pages(store.ledger.accounts(), RECONCILE_PAGE):
            for account in await store.ledger.check_many(jids):
                checked += 1
                found = account.mismatches
                if args.archive:
                    found += await whole_ledger(store, account.jid)
                bad += len(found)
                for m in found:
                    print(mismatch_line(m))
                currency = account.held.currency
                count, before = held.get(currency, (0, Money.zero(currency)))
                held[currency] = (count + 1, before + account.held)
    for currency, (count, total) in sorted(held.items()):
        print(f"reconcile {currency}: {count} accounts, {format_exact(total)} held")
    print(f"reconcile: {checked} accounts checked, {bad} mismatches")
    return EXIT_REFUSED if bad else EXIT_OK


def mismatch_line(m: Mismatch) -> str:
    return (
        f"MISMATCH {m.jid} {m.balance.value}: stored {format_exact(m.stored)}, "
        f"ledger sums to {format_exact(m.ledger_sum)}"
        + (" (archive and stream)" if m.whole else "")
    )


async def pages(items: AsyncIterator[str], size: int) -> AsyncIterator[list[str]]:
    page: list[str] = []
    async for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


async def whole_ledger(store: Store, jid: str) -> list[Mismatch]:
    """Every entry ever written (archive and stream, each once, without the ``archived``
    entries that stand for the archived ones) against the balances."""
    balances = await store.ledger.balances(jid)
    sums = sum_by_balance(await store.ledger.all_entries(jid), balances.prepaid.currency)
    stored = {Balance.PREPAID: balances.prepaid, Balance.VOUCHER: balances.voucher}
    return [
        Mismatch(jid, b, stored[b], sums[b], whole=True) for b in Balance if stored[b] != sums[b]
    ]

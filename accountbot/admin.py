"""``accountbot admin ...``: operators inspect and fix accounts."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from accountbot.cli import EXIT_OK, EXIT_REFUSED, common, config_of
from payments.billing.payment import credit_account
from payments.config import Config
from payments.jid import normalise_jid
from payments.ledger.records import Balance, EntryKind, LedgerEntry
from payments.money import format_money, parse_money
from payments.stores import Store


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = common(commands.add_parser("admin", help="inspect and fix accounts"))
    sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")

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

    reconcile = common(sub.add_parser("reconcile", help="check every ledger against its balance"))
    reconcile.set_defaults(handler=reconcile_all)

    # Imported here: vouchers_cmd imports this module (opened, operator).
    from accountbot.vouchers_cmd import add_admin_commands as add_voucher_commands

    add_voucher_commands(sub)

    from accountbot.admin_billing import add_admin_commands as add_billing_commands

    add_billing_commands(sub)

    from accountbot.admin_credits import add_admin_commands as add_credit_commands

    add_credit_commands(sub)

    from accountbot.admin_numbers import add_admin_commands as add_number_commands

    add_number_commands(sub)


def operator() -> str:
    return f"cli:{getpass.getuser()}"


@asynccontextmanager
async def opened(config: Config) -> AsyncIterator[Store]:
    store = Store.from_url(config.redis.url, currency=config.billing.currency)
    try:
        yield store
    finally:
        await store.close()


async def show_account(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        balances = await store.ledger.balances(jid)
        entries = await store.ledger.entries(jid, newest_first=True, count=args.entries)
    print(jid)
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


async def credit(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    amount = parse_money(args.amount, config.billing.currency, maximum=config.billing.max_amount)
    async with opened(config) as store:
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
    config = config_of(args)
    jid = normalise_jid(args.jid)
    amount = parse_money(args.amount, config.billing.currency, maximum=config.billing.max_amount)
    async with opened(config) as store:
        applied = await store.ledger.debit(
            jid,
            amount,
            reason=args.reason,
            kind=EntryKind.DEBIT,
            ref=args.ref,
            actor=operator(),
            balance=_balance(args),
        )
    where = _balance(args).value
    if not applied.applied:
        print(f"already applied (ref {args.ref}): {where} balance {applied.balance_after}")
    else:
        print(f"debited {amount} from {jid}: {where} balance {applied.balance_after}")
    return EXIT_OK


async def reconcile_all(args: argparse.Namespace) -> int:
    config = config_of(args)
    checked = bad = 0
    async with opened(config) as store:
        async for jid in store.ledger.accounts():
            checked += 1
            for m in await store.ledger.check(jid):
                bad += 1
                print(
                    f"MISMATCH {m.jid} {m.balance.value}: stored {format_money(m.stored)}, "
                    f"ledger sums to {format_money(m.ledger_sum)}"
                )
    print(f"reconcile: {checked} accounts checked, {bad} mismatches")
    return EXIT_REFUSED if bad else EXIT_OK

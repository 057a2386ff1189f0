"""``accountbot admin voucher ...``: operators create and inspect voucher codes."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta

from accountbot.common import (
    EXIT_OK,
    EXIT_REFUSED,
    CliError,
    Commands,
    common,
    config_of,
    opened,
    operator,
)
from payments.clock import utcnow
from payments.codes import VOUCHER_CODES
from payments.money import Money, format_exact, parse_money_among
from payments.topup.flow import create_vouchers
from payments.topup.vouchers import VoucherBatch


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    voucher = common(sub.add_parser("voucher", help="create and inspect voucher codes"))
    actions = voucher.add_subparsers(dest="voucher_command", required=True, metavar="ACTION")
    create = common(actions.add_parser("create", help="create a batch; prints one code a line"))
    create.add_argument(
        "--amount",
        required=True,
        help="value of each code, like 10, 10.50 or '10 CAD' (default currency unless named)",
    )
    create.add_argument("--count", required=True, type=int, help="how many codes")
    create.add_argument("--name", required=True, help="batch name (letters, digits, - _ .)")
    create.add_argument(
        "--expires", help="last day the codes work (YYYY-MM-DD, UTC) or an ISO 8601 instant"
    )
    create.set_defaults(handler=create_batch)
    show = common(actions.add_parser("show", help="what a code is worth and who redeemed it"))
    show.add_argument("code")
    show.set_defaults(handler=show_code)


def parse_expiry(text: str | None, now: datetime) -> datetime | None:
    """``2026-12-31`` means through that day (UTC): the codes stop at the next midnight."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            until = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(), UTC)
        else:
            until = datetime.fromisoformat(text)
            until = until if until.tzinfo else until.replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"--expires: {text!r} is not a date like 2026-12-31") from None
    if until <= now:
        raise CliError("--expires: that is in the past")
    return until


async def create_batch(args: argparse.Namespace) -> int:
    config = config_of(args)
    now = utcnow()
    maximum = config.billing.max_amount.units
    amount = parse_money_among(args.amount, config.billing.currencies, maximum_units=maximum)
    batch = VoucherBatch(
        name=args.name,
        amount=amount,
        count=args.count,
        created_at=now,
        created_by=operator(),
        expires_at=parse_expiry(args.expires, now),
    )
    async with opened(config) as store:
        try:
            codes = await create_vouchers(store, batch)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    for code in codes:
        print(VOUCHER_CODES.display(code))
    until = f", valid until {batch.expires_at.isoformat()}" if batch.expires_at else ""
    print(
        f"created {len(codes)} vouchers of {format_exact(amount)} in batch {batch.name}{until}",
        file=sys.stderr,
    )
    return EXIT_OK


async def show_code(args: argparse.Namespace) -> int:
    config = config_of(args)
    code = VOUCHER_CODES.normalise(args.code)
    async with opened(config) as store:
        fields = await store.vouchers.get(code) if code else {}
    if not code or not fields:
        print("no such voucher code")
        return EXIT_REFUSED
    currency = fields.get("currency") or config.billing.currency
    amount = format_exact(Money(int(fields["amount"]), currency))
    print(f"{VOUCHER_CODES.display(code)}  {amount}  batch {fields['batch']}")
    print(f"  expires: {fields['expires_at'] or 'never'}")
    by = fields["redeemed_by"]
    print(f"  redeemed by {by} at {fields['redeemed_at']}" if by else "  not redeemed")
    return EXIT_OK

"""``usage YYYY-MM``: one of the twelve months back, resource by resource (the figures the
account page plots for that month: ``payments/usage/history.py``)."""

from __future__ import annotations

from typing import Final

from bot.commands.model import Context, Reply, Table
from payments.clock import day_label, month_label, month_of, months_back
from payments.usage.flow import Meter
from payments.usage.history import month_report
from payments.usage.rules import PastResource
from payments.usage.texts import resource_name

MONTHS: Final = 12  # as the account page's year


def _line(line: PastResource) -> str:
    text = f"{resource_name(line.resource)}: {line.used} used, {line.from_allowance} of "
    text += f"{line.allowance} from the allowance"
    if line.from_credits:
        text += f", {line.from_credits} from credits"
    if line.blocked_at:
        text += f"; used up (blocked) at {line.blocked_at}"
    return text


async def usage_of_month(ctx: Context, year: int, month: int) -> Reply | None:
    """A past month's usage; None for this month (the command's own answer, with what is
    left), a refusal for a month out of the twelve."""
    wanted, months = f"{year:04d}{month:02d}", months_back(ctx.now, MONTHS)
    if wanted == months[-1]:
        return None
    if wanted not in months:
        span = f"{month_label(months[0])} to {month_label(months[-1])}"
        return Reply(f"Usage covers {span}.", error="bad-request")
    if ctx.account is not None and month_of(ctx.account.registered_at) > wanted:
        since = day_label(ctx.account.registered_at)
        return Reply(f"Nothing in {month_label(wanted)}: your account started on {since}.")
    report = await month_report(Meter(ctx.store, ctx.config.usage, ctx.jid), ctx.jid, wanted)
    plan = f" (plan {report.plan})" if report.plan else ""
    lines = [f"Usage {month_label(wanted)}{plan}:", *(_line(line) for line in report.lines)]
    rows = tuple(
        (
            line.resource, str(line.allowance), str(line.used), str(line.from_allowance),
            str(line.from_credits), str(line.blocked_at or ""),
        )
        for line in report.lines
    )  # fmt: skip
    columns = ("resource", "allowance", "used", "from the allowance", "from credits", "used up at")
    return Reply("\n".join(lines), table=Table(columns, rows))

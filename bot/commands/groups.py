"""Group commands: one account pays for others (docs/groups.md).

A main (a paid account) invites an existing trial account with ``add JID``
or hands out a referral code (``invite``, ``invites``, ``revoke CODE``);
the invitee answers ``accept CODE`` / ``decline CODE``, a newcomer signs up
with ``register CODE`` (``bot/commands/user.py``). ``numbers`` shows who pays
for what; ``remove JID`` and ``leave`` end it. Handlers call
``payments.groups.flow`` and never Redis directly.

Privacy: ``add`` answers the same text whatever the JID is (not a user, a
trial, a paid account, a leaf), and sends nothing to a JID that cannot
join; the main learns only an acceptance. A leaf sees who pays for it,
never that account's balance. Every refusal of a code reads the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from bot.commands.model import (
    USERS,
    Command,
    Context,
    Param,
    ParamKind,
    Reply,
    Role,
    Table,
)
from payments.accounts.records import AccountKind
from payments.clock import day_label
from payments.codes import GROUP_CODES, REFUSAL, CodeRefused
from payments.groups import flow as group_flows
from payments.groups.flow import GroupFlow, Joined, Member
from payments.groups.rules import CodeUse, GroupCode, MainRefused
from payments.money import format_money
from payments.usage import flow as metering
from payments.usage.flow import Meter
from payments.usage.texts import used_summary

MAINS: Final = frozenset({Role.PAID})
LEAVES: Final = frozenset({Role.LEAF})
TRIALS: Final = frozenset({Role.TRIAL})
ADD_PER_HOUR: Final = 20

ADDED: Final = (
    "If that address has a trial account that can join, it got an invitation from me. "
    "You will be told if it accepts."
)
NOT_MAIN: Final = "Only a paid account can pay for others: top up to activate yours."
NOT_LEAF: Final = "Your account is not paid for by another account."
NOT_TRIAL: Final = (
    "Only a trial account can accept an offer to be paid for. Without an account, "
    "send 'register CODE'."
)
MAIN_CANNOT: Final = "The account that invited you cannot pay for another account right now."


async def offer_options(ctx: Context) -> list[tuple[str, str]]:
    """The invitations delivered to the asker (never anyone else's), as a pick-list."""
    return await ctx.store.botstate.offers(ctx.jid, ctx.now)


CODE = Param(
    "code", "the code in the invitation", ParamKind.TEXT, rest=True, label="Offer",
    options=offer_options,
)  # fmt: skip
TARGET = Param("jid", "the account, like name@example.org", ParamKind.JID, label="Account")


def flow_of(ctx: Context) -> GroupFlow:
    return GroupFlow(ctx.store, ctx.config.billing, ctx.jid)


# --- inviting -------------------------------------------------------------------------


async def add(ctx: Context, args: Mapping[str, Any]) -> Reply:
    """The same reply whatever ``jid`` is; only the main's own state may refuse."""
    over = await ctx.store.botstate.hit(
        "add", ctx.jid, limit=ADD_PER_HOUR, window_seconds=3600, now=time.time()
    )
    if over:
        return Reply("Too many invitations this hour: try again later.", error="policy-violation")
    flow = flow_of(ctx)
    await group_flows.check_main(flow, ctx.jid, ctx.now)  # MainRefused, InsufficientFunds
    await group_flows.invite_jid(flow, ctx.jid, args["jid"], ctx.now)
    return Reply(ADDED)


async def invite(ctx: Context, args: Mapping[str, Any]) -> Reply:
    uses_text = str(args.get("uses") or "1").strip()
    if not uses_text.isascii() or not uses_text.isdigit():
        return Reply("USES is a number of sign-ups, like 1 or 3.", error="bad-request")
    code = await group_flows.create_referral(flow_of(ctx), ctx.jid, ctx.now, int(uses_text))
    shown = GROUP_CODES.display(code.code)
    people = "one person" if code.uses == 1 else f"{code.uses} people"
    return Reply(
        f"Referral code for {people}, until {day_label(code.expires_at)}: {shown}\n"
        f"Whoever sends 'register {shown}' to {ctx.config.xmpp.jid} gets an account you "
        "pay for. Send 'revoke CODE' to cancel it."
    )


def _code_line(code: GroupCode) -> str:
    left = code.uses - code.used
    state = "revoked" if code.status != "open" else f"{left} of {code.uses} sign-ups left"
    return f"{GROUP_CODES.display(code.code)}: {state}, until {day_label(code.expires_at)}"


async def invites(ctx: Context, args: Mapping[str, Any]) -> Reply:
    codes = await ctx.store.groups.codes_of(ctx.jid, ctx.now)
    if not codes:
        return Reply("You have no referral codes. Send 'invite' to create one.")
    rows = tuple(
        (GROUP_CODES.display(c.code), str(c.uses - c.used), day_label(c.expires_at), c.status)
        for c in codes
    )
    text = "\n".join(["Your referral codes:", *(_code_line(c) for c in codes)])
    return Reply(text, table=Table(("code", "sign-ups left", "until", "status"), rows))


async def revoke(ctx: Context, args: Mapping[str, Any]) -> Reply:
    code = GROUP_CODES.normalise(str(args["code"]))
    if code is None or not await ctx.store.groups.revoke_code(ctx.jid, code, ctx.now):
        return Reply("You have no open referral code like that.", error="item-not-found")
    return Reply(f"Revoked {GROUP_CODES.display(code)}: nobody can use it now.")


# --- answering -------------------------------------------------------------------------


async def use_code(ctx: Context, code: str, use: CodeUse) -> Joined | Reply | None:
    """Run a code; a Reply for every refusal (the same one for any refused code)."""
    try:
        return await group_flows.use_code(
            flow_of(ctx),
            ctx.jid,
            code,
            use,
            ctx.now,
            attempts_per_hour=ctx.config.bot.code_attempts_per_hour,
        )
    except CodeRefused:
        return Reply(REFUSAL, error="not-acceptable")
    except MainRefused:  # about the main: not for the invitee's eyes
        return Reply(MAIN_CANNOT, error="not-acceptable")


async def answer_offer(ctx: Context, code: str, use: CodeUse) -> Joined | Reply | None:
    """Accept or decline; the offer leaves the pick-list once answered (or refused)."""
    done = await use_code(ctx, code, use)
    normalised = GROUP_CODES.normalise(code)
    if normalised is not None:
        await ctx.store.botstate.forget_offer(ctx.jid, normalised)
    return done


def _joined_text(joined: Joined) -> str:
    if joined.price is None:
        return f"Your account is paid for by {joined.main}."
    return (
        f"Your account is now paid for by {joined.main}. It has the plan of that account; "
        "send 'numbers' to see who pays for you."
    )


async def accept(ctx: Context, args: Mapping[str, Any]) -> Reply:
    done = await answer_offer(ctx, str(args["code"]), CodeUse.ACCEPT)
    if isinstance(done, Reply):
        return done
    assert done is not None
    return Reply(_joined_text(done))


async def decline(ctx: Context, args: Mapping[str, Any]) -> Reply:
    done = await answer_offer(ctx, str(args["code"]), CodeUse.DECLINE)
    if isinstance(done, Reply):
        return done
    return Reply("Declined. Nothing changes for your account.")


async def register_with_code(ctx: Context, code: str) -> Reply:
    """``register CODE`` (from ``user.register``): a new account paid for by the code's main."""
    done = await use_code(ctx, code, CodeUse.REGISTER)
    if isinstance(done, Reply):
        return done
    assert done is not None
    return Reply(f"Welcome! {_joined_text(done)}")


# --- who pays for what -----------------------------------------------------------------


def meter_of(ctx: Context) -> Meter:
    return Meter(ctx.store, ctx.config.usage, ctx.jid)


async def _usage(ctx: Context, jid: str) -> str:
    view = await metering.month_usage(meter_of(ctx), jid, ctx.now)
    return used_summary(view.lines)


def _member_line(member: Member, usage: str) -> str:
    number = member.number or "no number"
    who = f"{member.jid} (you)" if member.is_main else member.jid
    cost = format_money(member.monthly)
    return f"{who}: {number}, {member.plan} {cost} a month; used {usage}"


async def numbers(ctx: Context, args: Mapping[str, Any]) -> Reply:
    flow = flow_of(ctx)
    await group_flows.resume(flow, ctx.jid, ctx.now)
    if ctx.account is not None and ctx.account.kind is AccountKind.LEAF:
        main, number = await group_flows.payer_of(ctx.store, ctx.jid)
        own = await ctx.store.numbers.of(ctx.jid)
        lines = [f"Your account is paid for by {main} ({number or 'no number'})."]
        lines.append(f"Your number: {own}." if own else "Your account has no number yet.")
        return Reply("\n".join(lines))
    members = await group_flows.members_of(ctx.store, ctx.jid)
    usages = [await _usage(ctx, m.jid) for m in members]
    lines = [f"You pay for {_accounts(len(members))} (usage in {ctx.now:%Y-%m}):"]
    lines += [_member_line(m, u) for m, u in zip(members, usages, strict=True)]
    if len(members) == 1 and ctx.role is Role.PAID:
        lines.append("Send 'add JID' or 'invite' to pay for another account.")
    rows = tuple(
        (m.jid, m.number, m.plan, format_money(m.monthly), u)
        for m, u in zip(members, usages, strict=True)
    )
    columns = ("account", "number", "plan", "a month", "used this month")
    return Reply("\n".join(lines), table=Table(columns, rows))


# --- ending it ---------------------------------------------------------------------------


async def confirm_remove(ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    leaf = args["jid"]
    if await ctx.store.groups.main_of(leaf) != ctx.jid:
        return Reply(f"You do not pay for {leaf}.", error="item-not-found")
    until = _until(ctx.account.next_renewal_at if ctx.account else None)
    return f"Stop paying for {leaf}? It stays paid until {until}; nothing more is charged for it."


async def remove(ctx: Context, args: Mapping[str, Any]) -> Reply:
    """The reply is the main's message: its notice (``left:MAIN:LEAF:AT``) is not sent."""
    told = f"left:{ctx.jid}:{args['jid']}:"
    await ctx.store.botstate.will_tell(ctx.jid, told)
    try:
        left = await group_flows.remove(flow_of(ctx), ctx.jid, args["jid"], ctx.now)
    except BaseException:
        await ctx.store.botstate.untell(ctx.jid, told)
        raise
    return Reply(
        f"You no longer pay for {left.leaf}. It stays paid until {day_label(left.paid_until)}; "
        "nothing more is charged for it."
    )


async def confirm_leave(ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    main, _number = await group_flows.payer_of(ctx.store, ctx.jid)
    if not main:
        return Reply(NOT_LEAF, error="item-not-found")
    account = await ctx.store.accounts.get(main)
    until = _until(account.next_renewal_at if account else None)
    activation = format_money(ctx.config.billing.activation_amount)
    return (
        f"Leave the group {main} pays for? Your account stays paid until {until}; "
        f"after that, top up {activation} to keep it."
    )


async def leave(ctx: Context, args: Mapping[str, Any]) -> Reply:
    left = await group_flows.leave(flow_of(ctx), ctx.jid, ctx.now)
    activation = format_money(ctx.config.billing.activation_amount)
    return Reply(
        f"You left the group {left.main} pays for. Your account stays paid until "
        f"{day_label(left.paid_until)}; then top up {activation} to keep it: send 'topup'."
    )


def _accounts(count: int) -> str:
    return "1 account" if count == 1 else f"{count} accounts"


def _until(when: Any) -> str:
    return day_label(when) if when is not None else "today"


COMMANDS = [
    Command(
        "numbers",
        "who you pay for, or who pays for you",
        USERS,
        numbers,
        unavailable="You have no account yet: send 'register' to start a trial.",
        label="Numbers",
        first=frozenset({Role.PAID, Role.LEAF}),
    ),
    Command(
        "add",
        "offer to pay for a trial account",
        MAINS,
        add,
        (TARGET,),
        unavailable=NOT_MAIN,
        label="Add an account",
    ),
    Command(
        "invite",
        "a referral code: whoever registers with it is paid for by you",
        MAINS,
        invite,
        (
            Param(
                "uses", "how many people may use it (default 1)", required=False, label="Sign-ups"
            ),
        ),
        unavailable=NOT_MAIN,
        label="Invite someone",
    ),
    Command(
        "invites",
        "your referral codes",
        MAINS,
        invites,
        unavailable=NOT_MAIN,
        label="Referral codes",
    ),
    Command(
        "revoke",
        "cancel one of your referral codes",
        MAINS,
        revoke,
        (Param("code", "the referral code", ParamKind.TEXT, rest=True, label="Code"),),
        unavailable=NOT_MAIN,
        label="Revoke a code",
    ),
    Command(
        "accept",
        "accept an offer to be paid for by another account",
        TRIALS,
        accept,
        (CODE,),
        unavailable=NOT_TRIAL,
        label="Accept an offer",
    ),
    Command(
        "decline",
        "decline an offer to be paid for",
        TRIALS,
        decline,
        (CODE,),
        unavailable=NOT_TRIAL,
        label="Decline an offer",
    ),
    Command(
        "remove",
        "stop paying for an account",
        MAINS,
        remove,
        (TARGET,),
        confirm=confirm_remove,
        unavailable=NOT_MAIN,
        label="Remove an account",
    ),
    Command(
        "leave",
        "stop being paid for by another account",
        LEAVES,
        leave,
        confirm=confirm_leave,
        unavailable=NOT_LEAF,
        label="Leave the group",
    ),
]

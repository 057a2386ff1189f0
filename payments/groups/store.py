"""Payer groups in Redis: the group list, each member's index, moves, codes.

``payment-leaf_jids-{INDEX}`` (the main first, then its leaves) is its own
hash slot; ``payment-leaf_jids_index-{JID}`` and the move in flight
(``payment-group_move-{JID}``) are in the leaf's slot; the main's charge
and its set of unfinished joins are in the main's slot; a code is a global
key of its own. Every method here is one atomic step on one slot, safe to
repeat; ``payments/group_flows.py`` orders them into joins and leaves.
Billing reads the same keys to charge a main for each leaf, freeze leaves
with their main and detach them at closure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, Final

from payments import keys
from payments.accounts.records import FreezeRecord
from payments.catalog.records import Plan
from payments.clock import epoch, month_of
from payments.errors import WrongCurrency
from payments.groups.rules import CodeClaim, CodeUse, Group, GroupCode, Move
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.locks import holder_is_dead
from payments.store.scripts import Scripts
from payments.store.shards import Shards

__all__ = ["Group", "GroupStore"]

# A code is kept this long after it expires (for `invites` and questions), then Redis drops it.
KEEP_CODE_SECONDS: Final = 30 * 24 * 3600
LOCK_MS: Final = 30_000


class MoveStatus(IntEnum):
    """What ``group_move.lua`` answers."""

    RECORDED = 1
    IN_FLIGHT = 0  # this same move was recorded before: go on with it
    COMPLETE = 2  # a join that is done already
    OTHER = -1  # another move of this JID is in flight
    REFUSED = -2


class LeafJoined(IntEnum):
    """What ``join_group.lua`` answers."""

    JOINED = 1
    ALREADY = 2  # a leaf of this group already
    OTHER_GROUP = 0
    NOT_TRIAL = -1
    HOLDS_MONEY = -2
    CURRENCY = -3  # its money was in another currency than the main's


@dataclass(frozen=True, slots=True)
class JoinCharged:
    status: int  # 1 charged now, 0 charged before, -1 refused
    voucher: Money
    prepaid: Money
    missing: Money  # when refused: what the balances lack
    balance: Money  # voucher + prepaid after

    @property
    def refused(self) -> bool:
        return self.status < 0


class GroupStore:
    def __init__(
        self, redis: RedisClient, scripts: Scripts, currencies: Currencies, shards: Shards
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies
        self._shards = shards

    # --- reads -------------------------------------------------------------------

    async def index_of(self, jid: str) -> str:
        index: Any = await self._redis.get(keys.leaf_jids_index(jid))
        return str(index or "")

    async def get(self, index: str) -> Group | None:
        if not index:
            return None
        members: Any = await self._redis.lrange(keys.leaf_jids(index), 0, -1)
        if not members:
            return None
        return Group(index, members[0], tuple(dict.fromkeys(members[1:])))

    async def of(self, jid: str) -> Group | None:
        """The group ``jid`` is the main or a leaf of."""
        return await self.get(await self.index_of(jid))

    async def main_of(self, jid: str) -> str:
        """The main that pays for ``jid`` ('' for none): two O(1) reads, whatever the number
        of groups (GET of the index, LINDEX 0 of the list)."""
        index = await self.index_of(jid)
        if not index:
            return ""
        main: Any = await self._redis.lindex(keys.leaf_jids(index), 0)
        return str(main) if main and main != jid else ""

    async def paid_until(self, jid: str) -> datetime | None:
        """Set when a leaf leaves: the end of the period its main had paid."""
        text: Any = await self._redis.hget(keys.account(jid), "paid_until")
        return datetime.fromisoformat(text) if text else None

    async def move(self, jid: str) -> Move | None:
        fields: Any = await self._redis.hgetall(keys.group_move(jid))
        return Move.decode(fields, self.currencies.default) if fields else None

    async def unfinished_joins(self, main: str) -> list[str]:
        leaves: Any = await self._redis.smembers(keys.group_joins(main))
        return sorted(leaves)

    # --- the group list ({INDEX}) and the main's index ------------------------------

    async def create(self, main: str) -> str:
        """The main's group, created when it has none (index first: a re-run reuses it)."""
        index = await self.index_of(main)
        if not index:
            candidate = str(await self._redis.incr(keys.LEAF_GROUPS))
            await self._redis.set(keys.leaf_jids_index(main), candidate, nx=True)
            index = await self.index_of(main)
        if not await self._redis.exists(keys.leaf_jids(index)):
            await self._redis.rpush(keys.leaf_jids(index), main)
        return index

    async def add_member(self, index: str, main: str, leaf: str) -> int:
        """List ``leaf`` after its main, once: 1 added, 0 listed already, -1 another main's."""
        return int(await self._scripts.call("group_add", [keys.leaf_jids(index)], [main, leaf]))

    async def remove_member(self, index: str, leaf: str) -> None:
        await self._redis.lrem(keys.leaf_jids(index), 0, leaf)

    async def drop_closed_leaf(self, index: str, leaf: str) -> None:
        """A leaf closed on its own leaves its main's list (renewals stop billing for it),
        then its index goes (both idempotent: the repair chore finishes a crash between)."""
        await self._redis.lrem(keys.leaf_jids(index), 0, leaf)
        current: Any = await self._redis.get(keys.leaf_jids_index(leaf))
        if current == index:
            await self._redis.delete(keys.leaf_jids_index(leaf))

    async def dissolve(self, index: str, main: str) -> None:
        """Remove an empty group: the list, then the main's index (both idempotent)."""
        await self._redis.delete(keys.leaf_jids(index))
        current: Any = await self._redis.get(keys.leaf_jids_index(main))
        if current == index:
            await self._redis.delete(keys.leaf_jids_index(main))

    # --- the leaf's side ({LEAF}) ------------------------------------------------------

    async def record_move(self, leaf: str, move: Move, *, new_allowed: bool = False) -> MoveStatus:
        """Write the move in flight (see ``lua/group_move.lua``)."""
        fields = [part for pair in move.fields().items() for part in pair]
        status = await self._scripts.call(
            "group_move",
            [
                keys.group_move(leaf),
                keys.leaf_jids_index(leaf),
                keys.account(leaf),
                keys.balance_prepaid(leaf),
                keys.balance_voucher(leaf),
            ],
            [move.op.value, move.main, move.index, "1" if new_allowed else "0", *fields],
        )
        return MoveStatus(int(status))

    async def drop_move(self, leaf: str, move: Move) -> bool:
        args = [move.op.value, move.main, move.index]
        return bool(await self._scripts.call("group_move_drop", [keys.group_move(leaf)], args))

    async def join_leaf(
        self, index: str, main: str, leaf: str, plan: str, version: int, price: Money, at: datetime
    ) -> LeafJoined:
        """The leaf's side of a join: kind leaf, the snapshot its main pays (``join_group.lua``),
        in the main's currency (``price``'s); a new JID enters the account registry first."""
        yyyymm = month_of(at)
        await self._redis.sadd(self._shards.key(keys.ACCOUNTS, leaf), leaf)
        status = await self._scripts.call(
            "join_group",
            [
                keys.account(leaf),
                keys.leaf_jids_index(leaf),
                keys.plan_as_of(leaf, yyyymm),
                keys.balance_prepaid(leaf),
                keys.balance_voucher(leaf),
                keys.transactions(leaf),
            ],
            [
                index, main, at.isoformat(), yyyymm, plan, version, price.units, price.currency,
                self.currencies.default,
            ],
        )  # fmt: skip
        return LeafJoined(int(status))

    async def join(self, index: str, main: str, leaf: str, plan: Plan, *, at: datetime) -> int:
        """Both sides at ``plan``'s price, no charge (billing tests, benchmarks):
        1 joined, 0 already in a group, -1 refused."""
        status = await self.join_leaf(index, main, leaf, plan.id, plan.version, plan.price, at)
        if await self.index_of(leaf) == index:
            await self.add_member(index, main, leaf)
        if status is LeafJoined.JOINED:
            return 1
        return 0 if status in (LeafJoined.ALREADY, LeafJoined.OTHER_GROUP) else -1

    async def leave_leaf(self, index: str, leaf: str, paid_until: datetime, at: datetime) -> bool:
        """The leaf's side of a leave (``leave_group.lua``); True when this call did it."""
        yyyymm = month_of(at)
        done = await self._scripts.call(
            "leave_group",
            [
                keys.account(leaf),
                keys.leaf_jids_index(leaf),
                keys.plan_as_of(leaf, yyyymm),
                keys.group_move(leaf),
            ],
            [index, at.isoformat(), yyyymm, paid_until.isoformat()],
        )
        return bool(done)

    async def detach(self, index: str, leaf: str, record: FreezeRecord, *, at: datetime) -> bool:
        """Detach a leaf at its main's closure (its side, then the list); True if this call did."""
        yyyymm = month_of(at)
        done = await self._scripts.call(
            "detach_leaf",
            [
                keys.account(leaf),
                keys.leaf_jids_index(leaf),
                keys.freezes(leaf),
                keys.plan_as_of(leaf, yyyymm),
            ],
            [index, at.isoformat(), yyyymm, record.encode()],
        )
        await self._redis.lrem(keys.leaf_jids(index), 0, leaf)
        return bool(done)

    # --- the main's side ({MAIN}) ------------------------------------------------------

    async def charge_join(
        self,
        main: str,
        leaf: str,
        amount: Money,
        *,
        ref: str,
        reason: str,
        at: datetime,
        actor: str,
    ) -> JoinCharged:
        """Charge the main once per ``ref``, all or nothing (``lua/group_charge.lua``); the
        amount in the main's currency (checked at commit: WrongCurrency)."""
        status, first, second, after = await self._scripts.call(
            "group_charge",
            self._main_keys(main),
            [
                amount.units, ref, reason, at.isoformat(), actor, leaf, amount.currency,
                self.currencies.default,
            ],
        )  # fmt: skip
        status, cur = int(status), amount.currency
        if status == -2:
            raise WrongCurrency(main, cur, await self.currencies.of(main))
        zero = Money.zero(cur)
        if status < 0:
            return JoinCharged(status, zero, zero, Money(int(first), cur), Money(int(after), cur))
        voucher, prepaid = Money(int(first), cur), Money(int(second), cur)
        return JoinCharged(status, voucher, prepaid, zero, Money(int(after), cur))

    async def refund_join(
        self, main: str, leaf: str, *, ref: str, reason: str, at: datetime, actor: str
    ) -> Money:
        """Give back a join's charge that could not complete (``lua/group_refund.lua``)."""
        units = await self._scripts.call(
            "group_refund", self._main_keys(main), [ref, reason, at.isoformat(), actor, leaf]
        )
        return Money(int(units), await self.currencies.of(main))

    async def finish_join(self, main: str, leaf: str) -> None:
        await self._redis.srem(keys.group_joins(main), leaf)

    def _main_keys(self, main: str) -> list[str]:
        return [
            keys.balance_voucher(main),
            keys.balance_prepaid(main),
            keys.transactions(main),
            keys.idempotency(main),
            keys.group_joins(main),
            keys.account(main),
        ]

    async def lock(self, main: str, token: str) -> bool:
        """One join of a main at a time (its leaf count is checked, then grows).

        ``token`` is ``locks.new_token()``: a holder on this host whose process
        is gone (killed mid-join) is replaced at once, so the re-run need not
        wait for the TTL.
        """
        key = keys.group_lock(main)
        if await self._redis.set(key, token, nx=True, px=LOCK_MS):
            return True
        holder: Any = await self._redis.get(key)
        if holder and holder_is_dead(holder):
            return bool(await self._scripts.call("lock_steal", [key], [holder, token, LOCK_MS]))
        return False

    async def unlock(self, main: str, token: str) -> None:
        await self._scripts.call("lock_release", [keys.group_lock(main)], [token])

    # --- codes (global, one key each) and the main's list of referral codes -------------

    async def create_code(self, code: GroupCode) -> bool:
        """Write a code (listed first for a referral: the main can always see and revoke it)."""
        expires = epoch(code.expires_at)
        if code.kind.value == "referral":
            await self._redis.zadd(keys.group_codes(code.main), {code.code: expires})
        args = [
            code.kind.value,
            code.main,
            code.invitee,
            code.created_at.isoformat(),
            code.expires_at.isoformat(),
            expires,
            code.uses,
            # Relative (EXPIRE, not EXPIREAT): chores and tests run at other instants
            # than Redis's clock.
            epoch(code.expires_at) - epoch(code.created_at) + KEEP_CODE_SECONDS,
        ]
        return bool(
            await self._scripts.call("group_code_create", [keys.group_code(code.code)], args)
        )

    async def claim_code(
        self, code: str, jid: str, use: CodeUse, now: datetime
    ) -> tuple[CodeClaim, str]:
        """Use a code (``lua/group_code_claim.lua``): the outcome and the code's main."""
        status, main, _kind = await self._scripts.call(
            "group_code_claim",
            [keys.group_code(code)],
            [jid, use.value, epoch(now), now.isoformat()],
        )
        return CodeClaim(int(status)), str(main)

    async def unclaim_code(self, code: str, jid: str) -> bool:
        return bool(await self._scripts.call("group_code_unclaim", [keys.group_code(code)], [jid]))

    async def revoke_code(self, main: str, code: str, now: datetime) -> bool:
        if await self._redis.zscore(keys.group_codes(main), code) is None:
            return False
        args = [main, now.isoformat()]
        return bool(await self._scripts.call("group_code_revoke", [keys.group_code(code)], args))

    async def codes_of(self, main: str, now: datetime) -> list[GroupCode]:
        """The main's referral codes not expired, oldest first (expired ones are dropped)."""
        listing = keys.group_codes(main)
        await self._redis.zremrangebyscore(listing, "-inf", f"({epoch(now)}")
        codes: Any = await self._redis.zrange(listing, 0, -1)
        async with self._redis.pipeline(transaction=False) as pipe:
            for code in codes:
                pipe.hgetall(keys.group_code(code))
            rows = await pipe.execute()
        found = [GroupCode.decode(c, f) for c, f in zip(codes, rows, strict=True) if f]
        return sorted(found, key=lambda c: c.created_at)

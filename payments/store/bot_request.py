"""A bot request's reads in one round trip (``lua/bot_request.lua``).

Each chat line used to cost three to six sequential round trips (the rate
limiter's MULTI/EXEC, the account and its freezes, the balances, the plan
snapshot): most of the bot's CPU went to redis-py. One script counts the
request exactly as ``BotStateStore.hit`` does and returns everything
``balance`` and the dispatcher read.

Requests that arrive together (one read from the XMPP socket often holds
several stanzas) go to Redis as one pipeline of these scripts: one write and
one answer to wait for instead of one per request (``coalesced.py``). Each
script stays atomic on its own; only the network trip is shared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from payments import keys
from payments.accounts.records import Account
from payments.ledger.records import Balances
from payments.money import Money
from payments.store.coalesced import Coalesced
from payments.store.scripts import Scripts

MONTH_MARK = "\0"  # never in a key: where the month goes in plan_as_of's name


@dataclass(frozen=True, slots=True)
class BotRequest:
    over: int  # how far past the limit this request is (0: within it)
    account: Account | None
    balances: Balances | None = None
    plan_snapshot: Mapping[str, str] = field(default_factory=dict)


class BotRequestStore:
    def __init__(self, scripts: Scripts, currency: str) -> None:
        self._scripts = scripts
        self.currency = currency
        self._requests = Coalesced(scripts, "bot_request")  # a turn's requests, one trip

    async def enter(
        self, bucket: str, jid: str, *, limit: int, window_seconds: int, now: float
    ) -> BotRequest:
        """Count one request in a fixed window and read the sender's account with it."""
        head, tail = keys.plan_as_of(jid, MONTH_MARK).split(MONTH_MARK)
        counter = keys.rate_limit(bucket, jid, int(now // window_seconds))
        names = [keys.account(jid), keys.freezes(jid)]
        names += [keys.balance_prepaid(jid), keys.balance_voucher(jid)]
        found = await self._requests.call([counter, *names], [window_seconds * 2, head, tail])
        over = max(0, int(found[0]) - limit)
        if len(found) == 1:
            return BotRequest(over, None)
        _count, fields, freezes, prepaid, voucher, snapshot = found
        account = Account.decode(jid, _pairs(fields), _pairs(freezes), self.currency)
        balances = self._balances(prepaid, voucher, account.currency)
        return BotRequest(over, account, balances, _pairs(snapshot))

    def _balances(self, prepaid: str | None, voucher: str | None, currency: str) -> Balances:
        return Balances(
            prepaid=Money(int(prepaid or 0), currency),
            voucher=Money(int(voucher or 0), currency),
            prepaid_exists=prepaid is not None,
        )


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}

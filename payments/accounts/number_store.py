"""Phone numbers in Redis: the account's ``number`` field and the reverse index.

See ``payments/numbers.py`` for the rule: a number is held when both sides
agree. Each method is a sequence of one-key steps, safe to repeat.
"""

from __future__ import annotations

from typing import Any

from payments import keys
from payments.accounts.numbers import NumberTaken
from payments.errors import UnknownAccount
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts


class NumberStore:
    def __init__(self, redis: RedisClient, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def of(self, jid: str) -> str:
        """The account's number ('' for none): one HGET."""
        number: Any = await self._redis.hget(keys.account(jid), "number")
        return str(number or "")

    async def holder(self, number: str) -> str:
        """The account holding ``number`` ('' for none): GET, then HGET to check it agrees."""
        jid: Any = await self._redis.get(keys.number_owner(number))
        if not jid or await self.of(jid) != number:
            return ""
        return str(jid)

    async def assign(self, jid: str, number: str) -> str:
        """Give ``jid`` the number; returns the number it had before ('' for none).

        Steps: point the number at ``jid`` (refused if another account holds
        it), set the account's field, then drop the reverse entry of the
        number it had before. A crash after the first step leaves a reverse
        entry its account does not confirm: stale, and a re-run completes it.
        """
        pointed: Any = await self._redis.get(keys.number_owner(number))
        stale = ""
        if pointed and pointed != jid:
            if await self.of(pointed) == number:
                raise NumberTaken(number, str(pointed))
            stale = str(pointed)
        if not await self._scripts.call("number_claim", [keys.number_owner(number)], [jid, stale]):
            raise NumberTaken(number, await self.holder(number) or "another account")
        before = await self._scripts.call("number_set", [keys.account(jid)], [number])
        if before is None:
            await self._scripts.call("number_drop", [keys.number_owner(number)], [jid])
            raise UnknownAccount(f"{jid} has no active account")
        if before and before != number:
            await self._scripts.call("number_drop", [keys.number_owner(str(before))], [jid])
        return str(before or "")

    async def release(self, jid: str) -> str:
        """Take the account's number away; returns it ('' when it had none).

        The reverse entry first, then the account's field: in between, the
        number reads as free and the account still shows it until the re-run.
        """
        number = await self.of(jid)
        if not number:
            return ""
        await self._scripts.call("number_drop", [keys.number_owner(number)], [jid])
        await self._scripts.call("number_unset", [keys.account(jid)], [number])
        return number

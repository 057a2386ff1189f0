"""``currency CODE``: the currency an account counts in, chosen before its first money.

Every amount of an account is in one currency (``payments/store/currencies.py``).
A new account counts in the default currency (the first of ``[billing]
currencies``); until money arrives its holder may choose another of them (the
bot's ``currency``, the top-up page). The first money fixes it: a payment,
a voucher or a credit in another currency is its first money only if nothing
arrived before (then the account takes that currency; see ``lua/credit.lua``),
and is refused after. A leaf counts in its main's currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from payments.errors import NotAllowed, PaymentsError
from payments.stores import Store


class CurrencySet(IntEnum):
    """What ``lua/currency_set.lua`` answers."""

    SET = 1
    ALREADY = 0
    NO_ACCOUNT = -1
    FIXED = -2
    LEAF = -3
    MOVING = -4


class UnknownCurrency(PaymentsError):
    def __init__(self, text: str, offered: Sequence[str]) -> None:
        super().__init__(f"'{text[:12]}' is not a currency offered here: {', '.join(offered)}")


REFUSALS = {
    CurrencySet.NO_ACCOUNT: "You have no account yet: send 'register' to start a trial.",
    CurrencySet.FIXED: "Your account counts in {current} since money arrived: that cannot change.",
    CurrencySet.LEAF: "Your account counts in the currency of the account that pays for it.",
    CurrencySet.MOVING: "Your account is moving to a new address: its currency cannot change now.",
}


def parse_currency(text: str, offered: Sequence[str]) -> str:
    code = text.strip().upper()
    if code not in offered:
        raise UnknownCurrency(text.strip(), offered)
    return code


async def choose_currency(store: Store, jid: str, code: str) -> CurrencySet:
    """Make ``jid`` count in ``code`` (one of the offered currencies); NotAllowed saying why
    not (no account, money arrived already, a leaf)."""
    status = CurrencySet(await store.accounts.set_currency(jid, code))
    if status in REFUSALS:
        current = await store.currencies.of(jid)
        raise NotAllowed(REFUSALS[status].format(current=current))
    return status

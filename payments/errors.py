"""Small domain exceptions, mapped to replies, HTTP statuses and exit codes at the edges."""

from __future__ import annotations

from payments.money import Money


class PaymentsError(Exception):
    """Base of every domain error: its message is safe to show to the asker."""


class InsufficientFunds(PaymentsError):
    def __init__(self, missing: Money) -> None:
        super().__init__(f"not enough balance: {missing} missing")
        self.missing = missing


class NotAllowed(PaymentsError):
    pass


class UnknownAccount(PaymentsError):
    pass


class CorruptRecord(PaymentsError):
    """A Redis value that does not decode into the record it should be."""


class WrongCurrency(PaymentsError):
    """Money in another currency than the account counts in (fixed by its first money)."""

    def __init__(self, jid: str, currency: str, wanted: str) -> None:
        super().__init__(f"{jid} counts in {wanted}: money in {currency} is refused")
        self.currency = currency
        self.wanted = wanted

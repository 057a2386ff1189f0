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


class NotYetDurable(PaymentsError):
    """A write is done but not yet on the replicas ``[redis] wait_replicas`` asks for: it
    must not be acknowledged yet. Doing it again is safe where it carries a ref."""

    def __init__(self, acknowledged: int, wanted: int, timeout_ms: int) -> None:
        super().__init__(
            f"written, but not yet safe: on {acknowledged} of {wanted} replicas "
            f"after {timeout_ms} ms"
        )
        self.acknowledged = acknowledged
        self.wanted = wanted


class WrongCurrency(PaymentsError):
    """Money in another currency than the account counts in (fixed by its first money)."""

    def __init__(self, jid: str, currency: str, wanted: str) -> None:
        super().__init__(f"{jid} counts in {wanted}: money in {currency} is refused")
        self.currency = currency
        self.wanted = wanted

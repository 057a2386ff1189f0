"""Money as a value type: integer units of 1/10000, bound to a currency.

No float is ever accepted; parsing and formatting of amounts live here and
nowhere else. Stored in Redis as the bare integer of units (12.3456 USD is
``123456``), in the currency of the account they belong to (its ``currency``
field; ``[billing] currencies`` lists those a deployment offers).

Shown as the currency's symbol and the amount (``$12.00``, ``CA$12.00``,
``€12.00``): ``SYMBOLS`` holds the symbols; a currency without one reads
``12.00 CHF``. ``$`` is the US dollar only, so two currencies never read alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

UNITS_PER_WHOLE: Final = 10_000
UNITS_PER_CENT: Final = 100
DECIMALS: Final = 4

SYMBOLS: Final = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}

# ASCII only (re.ASCII): "١٢" and other non-ASCII digits are refused.
_AMOUNT_RE: Final = re.compile(
    r"(?P<sym>[A-Z]{0,2}\$|€|£)?(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]{1,4}))?(?:\s+(?P<code>[A-Za-z]{3}))?",
    re.ASCII,
)


class InvalidAmount(ValueError):
    """An amount typed by a person or read from outside that we refuse."""


class CurrencyMismatch(TypeError):
    """Two amounts of different currencies were combined."""


@dataclass(frozen=True, slots=True, order=False)
class Money:
    units: int
    currency: str = "USD"

    def __post_init__(self) -> None:
        if type(self.units) is not int:  # bool and float are both refused
            raise TypeError(f"Money units must be int, not {type(self.units).__name__}")
        if len(self.currency) != 3 or not self.currency.isascii() or not self.currency.isupper():
            raise ValueError(f"currency must be a 3-letter ISO code, not {self.currency!r}")

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(0, currency)

    @classmethod
    def whole(cls, amount: int, currency: str = "USD") -> Money:
        return cls(amount * UNITS_PER_WHOLE, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.units + other.units, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.units - other.units, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.units, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.units), self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.units * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.units < other.units

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.units <= other.units

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.units > other.units

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.units >= other.units

    def __bool__(self) -> bool:
        return self.units != 0

    def prorate(self, numerator: int, denominator: int, *, step: int = 1) -> Money:
        """``self * numerator / denominator``, rounded half up to a multiple of ``step``
        units (``UNITS_PER_CENT``: whole cents, what a charge people read should be).

        Rounding half up (away from zero for positive amounts) is the usual
        choice for a charge: it never undercharges by more than half a step.
        """
        if denominator <= 0 or numerator < 0 or step <= 0:
            raise ValueError("prorate needs numerator >= 0, denominator > 0 and step > 0")
        quotient, remainder = divmod(self.units * numerator, denominator * step)
        if remainder * 2 >= denominator * step:
            quotient += 1
        return Money(quotient * step, self.currency)

    def to_cents(self) -> Money:
        """Rounded half away from zero to whole cents (what people are shown)."""
        cents, rest = divmod(abs(self.units), UNITS_PER_CENT)
        if rest * 2 >= UNITS_PER_CENT:
            cents += 1
        return Money(cents * UNITS_PER_CENT * (-1 if self.units < 0 else 1), self.currency)

    def __str__(self) -> str:
        return format_exact(self)


def format_money(amount: Money) -> str:
    """``$12.34``: what users read, rounded to cents (``Money.to_cents``). The books keep
    every unit: operators' views (the CLI, admin commands, chore reports, CSV) use
    ``format_exact``."""
    return format_exact(amount.to_cents())


def format_exact(amount: Money) -> str:
    """``$12.34``; two decimals, more only when they are not zero (``$0.0125``)."""
    sign = "-" if amount.units < 0 else ""
    symbol = SYMBOLS.get(amount.currency)
    if symbol is None:
        return f"{plain_amount(amount)} {amount.currency}"
    return f"{sign}{symbol}{plain_amount(abs(amount))}"


def plain_amount(amount: Money) -> str:
    """``-12.34``, ``0.0125``: the decimal number without currency (for CSV and forms)."""
    sign = "-" if amount.units < 0 else ""
    whole, frac = divmod(abs(amount.units), UNITS_PER_WHOLE)
    digits = f"{frac:04d}"
    return f"{sign}{whole}.{digits[:2] + digits[2:].rstrip('0')}"


def accepted_forms(currency: str) -> str:
    symbol = SYMBOLS.get(currency, "")
    shown = (
        f"20, 20.5, {symbol}20.50 or 20.50 {currency}"
        if symbol
        else f"20, 20.5 or 20.50 {currency}"
    )
    return f"an amount like {shown} (at most 4 decimals)"


def parse_money(
    text: str,
    currency: str = "USD",
    *,
    maximum: Money | None = None,
    allow_zero: bool = False,
) -> Money:
    """Parse an amount a person typed; refuse anything ambiguous.

    Accepted: ``20``, ``20.5``, ``$20.50``, ``20.50 USD``. Refused: negative,
    zero (unless allowed), more than 4 decimals, exponents, non-ASCII digits,
    another currency, anything above ``maximum``.
    """
    if not isinstance(text, str):
        raise InvalidAmount(f"expected {accepted_forms(currency)}")
    cleaned = text.strip()
    match = _AMOUNT_RE.fullmatch(cleaned)
    if match is None or len(cleaned) > 40:
        raise InvalidAmount(f"'{_shorten(cleaned)}' is not {accepted_forms(currency)}")
    code = match["code"]
    if code is not None and code.upper() != currency:
        raise InvalidAmount(f"amounts are in {currency}, not {code.upper()}")
    if match["sym"] and SYMBOLS.get(currency) != match["sym"]:
        raise InvalidAmount(f"amounts are in {currency}; write 20.50 {currency}")
    frac = (match["frac"] or "").ljust(DECIMALS, "0")
    units = int(match["whole"]) * UNITS_PER_WHOLE + int(frac or "0")
    amount = Money(units, currency)
    if units == 0 and not allow_zero:
        raise InvalidAmount("the amount must be more than zero")
    if maximum is not None and amount > maximum:
        raise InvalidAmount(f"the most accepted at once is {format_money(maximum)}")
    return amount


def currency_named(text: str, currencies: Sequence[str]) -> str | None:
    """The currency an amount names at its end (``20.50 CAD``, ``CA$20``), if one of
    ``currencies``; None when it names none (a bare ``20``)."""
    match = _AMOUNT_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    if match["code"]:
        return match["code"].upper() if match["code"].upper() in currencies else None
    if match["sym"]:
        return next((c for c in currencies if SYMBOLS.get(c) == match["sym"]), None)
    return None


def parse_money_among(
    text: str,
    currencies: Sequence[str],
    *,
    maximum_units: int | None = None,
    allow_zero: bool = False,
) -> Money:
    """An amount in the currency it names (one of ``currencies``), else in the first of
    them: what operators type for prices and vouchers (``13 CAD``, ``10``)."""
    currency = currency_named(text, currencies) or currencies[0]
    maximum = Money(maximum_units, currency) if maximum_units is not None else None
    return parse_money(text, currency, maximum=maximum, allow_zero=allow_zero)


def _shorten(text: str, limit: int = 20) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"

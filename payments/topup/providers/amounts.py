"""Amounts on the providers' wires: minor units (Stripe) and decimal strings (BTCPay).

Conversions are exact integer arithmetic; an amount a provider cannot
represent (a fraction of a cent) raises ValueError instead of being rounded.
"""

from __future__ import annotations

from typing import Final

from payments.money import DECIMALS, Money

# ISO 4217 exponents that are not 2, as Stripe lists them ("zero-decimal" and
# "three-decimal" currencies in its docs on amounts).
_ZERO_DECIMAL: Final = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
_THREE_DECIMAL: Final = frozenset(("BHD", "JOD", "KWD", "OMR", "TND"))


def exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2


def _step(currency: str) -> int:
    return int(10 ** (DECIMALS - exponent(currency)))


def payable(amount: Money) -> bool:
    """True when the amount is a whole number of the currency's minor unit (cents)."""
    return amount.units % _step(amount.currency) == 0


def to_minor_units(amount: Money) -> int:
    """``$25.00`` -> ``2500``; refuses ``$0.0125`` (no such number of cents)."""
    if not payable(amount):
        raise ValueError(f"{amount} is not a whole number of minor units")
    return amount.units // _step(amount.currency)


def from_minor_units(value: int, currency: str) -> Money:
    if type(value) is not int:
        raise TypeError("minor units must be an int")
    return Money(value * _step(currency), currency.upper())


def decimal_text(amount: Money) -> str:
    """``$25.00`` -> ``"25.00"``: the plain decimal string of the minor units."""
    digits = exponent(amount.currency)
    whole, frac = divmod(abs(to_minor_units(amount)), 10**digits)
    sign = "-" if amount.units < 0 else ""
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def payable_ceiling(amount: Money) -> Money:
    """The least payable amount at or above ``amount`` (``$3.0001`` -> ``$3.01``)."""
    step = _step(amount.currency)
    return Money(-(-amount.units // step) * step, amount.currency)

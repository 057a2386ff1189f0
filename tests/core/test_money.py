from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.money import (
    UNITS_PER_CENT,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    format_exact,
    format_money,
    parse_money,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("20", 200_000),
        ("20.5", 205_000),
        ("$20.50", 205_000),
        ("20.50 USD", 205_000),
        ("20.50 usd", 205_000),
        (" 0.0125 ", 125),
        ("12.3456", 123_456),
        ("007", 70_000),
    ],
)
def test_parse_accepts_the_documented_forms(text: str, units: int) -> None:
    assert parse_money(text) == Money(units, "USD")


@pytest.mark.parametrize(
    "text",
    [
        "-5",
        "1e3",
        "12.345678",
        "١٢",
        "abc",
        "",
        "20.",
        ".5",
        "20,50",
        "$-1",
        "2 0",
        "0x10",
        "inf",
        "NaN",
        "20.50 EUR",
        "€20",
        "+5",
        "5 $",
        "１２",
        "20.50USD",
    ],
)
def test_parse_refuses_with_what_is_accepted(text: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_money(text)
    assert str(refused.value)  # a message a person can read


def test_parse_refuses_zero_unless_allowed_and_above_maximum() -> None:
    with pytest.raises(InvalidAmount, match="more than zero"):
        parse_money("0")
    assert parse_money("0", allow_zero=True) == Money(0)
    with pytest.raises(InvalidAmount, match=r"\$100.00"):
        parse_money("100.0001", maximum=Money.whole(100))
    assert parse_money("100", maximum=Money.whole(100)) == Money.whole(100)


@pytest.mark.parametrize(
    ("units", "exact", "shown"),
    [
        (123_400, "$12.34", "$12.34"),
        (125, "$0.0125", "$0.01"),
        (200_000, "$20.00", "$20.00"),
        (0, "$0.00", "$0.00"),
        (-50_000, "-$5.00", "-$5.00"),
        (123_456, "$12.3456", "$12.35"),
        (10, "$0.001", "$0.00"),
        (99_992, "$9.9992", "$10.00"),
        (49_981, "$4.9981", "$5.00"),
        (150, "$0.015", "$0.02"),  # half a cent: away from zero
        (-150, "-$0.015", "-$0.02"),
    ],
)
def test_users_read_cents_and_operators_every_unit(units: int, exact: str, shown: str) -> None:
    assert format_exact(Money(units)) == exact
    assert format_money(Money(units)) == shown
    assert str(Money(units)) == exact


def test_format_other_currencies() -> None:
    assert format_money(Money(205_000, "EUR")) == "€20.50"
    assert format_money(Money(205_000, "CHF")) == "20.50 CHF"


def test_no_float_and_no_currency_mixing() -> None:
    # The wrong types are on purpose: Money refuses at run time what mypy refuses here.
    with pytest.raises(TypeError):
        Money(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True)  # a bool is an int to mypy, not to Money
    with pytest.raises(CurrencyMismatch):
        Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(TypeError):
        Money(1) * 1.5  # type: ignore[operator]


def test_prorate_rounds_half_up() -> None:
    assert Money(100_000).prorate(1, 3) == Money(33_333)
    assert Money(100_000).prorate(2, 3) == Money(66_667)
    assert Money(5).prorate(1, 2) == Money(3)
    assert Money(100_000).prorate(30, 30) == Money(100_000)


def test_prorate_to_whole_cents() -> None:
    assert Money(100_000).prorate(16, 31, step=UNITS_PER_CENT) == Money(51_600)  # $5.1613
    assert Money(100_000).prorate(1, 3, step=UNITS_PER_CENT) == Money(33_300)
    assert Money(100).prorate(1, 2, step=UNITS_PER_CENT) == Money(100)  # half a cent: up


@given(st.integers(min_value=1, max_value=10**12))
def test_format_then_parse_round_trips(units: int) -> None:
    assert parse_money(format_exact(Money(units))) == Money(units)


@given(st.text(max_size=30))
def test_parse_never_raises_anything_but_invalid_amount(text: str) -> None:
    try:
        amount = parse_money(text)
    except InvalidAmount:
        return
    assert amount.units > 0

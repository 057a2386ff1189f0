"""The HTML of the top-up pages: plain forms, no JavaScript, readable on a phone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from payments.money import Money, format_money
from payments.topup.providers.amounts import decimal_text

STYLE: Final = """
body{font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1c1e21}
main{max-width:28rem;margin:0 auto;padding:1.2rem 1rem 2rem}
h1{font-size:1.35rem;margin:.2rem 0 .4rem}
p{margin:.4rem 0}
.who{color:#555;word-break:break-all}
fieldset{border:0;margin:1rem 0 0;padding:0}
legend{font-weight:600;margin-bottom:.4rem}
.choices{display:grid;grid-template-columns:repeat(auto-fill,minmax(6rem,1fr));gap:.5rem}
.choice{display:flex;align-items:center;gap:.5rem;background:#fff;border:1px solid #ccd;
border-radius:.6rem;padding:.7rem .8rem;cursor:pointer}
.choice input{flex:none;width:1.2rem;height:1.2rem;margin:0}
.methods{grid-template-columns:1fr}
label.other{display:block;margin-top:.8rem}
input[type=text]{box-sizing:border-box;width:100%;font-size:1.1rem;padding:.7rem;
border:1px solid #ccd;border-radius:.6rem;margin-top:.3rem}
button{width:100%;margin-top:1.3rem;padding:.9rem;font-size:1.1rem;font-weight:600;
color:#fff;background:#1a5fd0;border:0;border-radius:.6rem;cursor:pointer}
.error{background:#fde8e8;border:1px solid #e9a6a6;border-radius:.6rem;padding:.6rem .8rem}
.hint{color:#555;font-size:.9rem}
.save{margin-top:.8rem}
"""


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    label: str


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")


def topup_page(
    *,
    jid: str,
    presets: Sequence[Money],
    selected: Money | None,
    methods: Sequence[Method],
    minimum: Money,
    maximum: Money,
    error: str = "",
    other: str = "",
    offer_saving: bool = False,
    currencies: Sequence[str] = (),
) -> str:
    """The top-up form; ``selected`` is checked (added first when it is not a preset).
    ``offer_saving``: a card payment may save its card (saved cards are on).
    ``currencies``: the others the account may still count in (before its first money),
    each a button of a form of its own."""
    amounts = list(presets)
    if selected is not None and selected not in amounts:
        amounts.insert(0, selected)
    checked = selected if selected is not None and not other else None
    if checked is None and not other and amounts:
        checked = amounts[0]
    parts = [
        "<h1>Top up your account</h1>",
        f'<p class="who">{escape(jid)}</p>',
        f'<p class="error" role="alert">{escape(error)}</p>' if error else "",
        _currencies(minimum.currency, currencies),
        '<form method="post">',
        _amounts(amounts, checked),
        '<label class="other">Other amount'
        f'<input type="text" name="other" inputmode="decimal" autocomplete="off" '
        f'placeholder="e.g. 30" value="{escape(other)}"></label>',
        f'<p class="hint">From {escape(format_money(minimum))} to '
        f"{escape(format_money(maximum))}. An amount typed here is used instead of "
        "the choice above.</p>",
        _methods(methods),
        _save_card() if offer_saving else "",
        '<button type="submit">Continue to payment</button>',
        "</form>",
    ]
    return _page("Top up", "".join(parts))


def _currencies(current: str, others: Sequence[str]) -> str:
    """Before the first payment: pay (and count) in another currency."""
    if not others:
        return ""
    buttons = "".join(
        f'<button type="submit" name="set_currency" value="{escape(code)}">Pay in {escape(code)}'
        "</button>"
        for code in others
    )
    return (
        f'<form method="post" class="currency"><p>Amounts are in {escape(current)}. Your '
        "first payment sets the currency of your account for good.</p>"
        f"{buttons}</form>"
    )


def _amounts(amounts: Sequence[Money], checked: Money | None) -> str:
    items = "".join(
        f'<label class="choice"><input type="radio" name="amount" '
        f'value="{escape(decimal_text(a))}"{" checked" if a == checked else ""}>'
        f"{escape(format_money(a))}</label>"
        for a in amounts
    )
    return f'<fieldset><legend>Amount</legend><div class="choices">{items}</div></fieldset>'


def _save_card() -> str:
    return (
        '<label class="choice save"><input type="checkbox" name="save_card" value="1">'
        "Save this card: it pays renewals when my balance does not (card payments only)</label>"
    )


def _methods(methods: Sequence[Method]) -> str:
    items = "".join(
        f'<label class="choice"><input type="radio" name="method" '
        f'value="{escape(m.name)}"{" checked" if i == 0 else ""}>{escape(m.label)}</label>'
        for i, m in enumerate(methods)
    )
    return (
        f'<fieldset><legend>Pay with</legend><div class="choices methods">{items}</div></fieldset>'
    )


def card_page(*, jid: str, saved: Sequence[str], provider: str) -> str:
    """Add a card: what is saved already, and off to the provider's page to type it."""
    listed = "".join(f"<li>{escape(line)}</li>" for line in saved)
    parts = [
        "<h1>Add a card</h1>",
        f'<p class="who">{escape(jid)}</p>',
        f"<p>Saved now:</p><ul>{listed}</ul>" if saved else "<p>No card is saved yet.</p>",
        f"<p>You type the card on {escape(provider)}'s page; it is kept there, not here. "
        "It pays your renewals when your balance does not, and what you owe now.</p>",
        '<form method="post"><button type="submit">Continue to add a card</button></form>',
    ]
    return _page("Add a card", "".join(parts))

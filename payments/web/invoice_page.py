"""The account page's other documents: a printable invoice, an operator's confirmation,
and the short pages that say what happened to a form.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from payments.billing.numbering import invoice_number
from payments.billing.rules import Invoice, InvoiceLine
from payments.clock import day_label, month_label
from payments.config import InvoiceConfig
from payments.money import Money, format_money
from payments.usage.credits import AUTOBUY_PREFIX
from payments.web.account_html import Column, button, document, hidden, post_form, table


def _m(amount: Money) -> str:
    return escape(format_money(amount))


def line_description(invoice: Invoice, line: InvoiceLine) -> str:
    month = month_label(invoice.period)
    if line.member.startswith(AUTOBUY_PREFIX):
        return f"Credits: {line.member.removeprefix(AUTOBUY_PREFIX)} pack, bought at renewal"
    if line.member == invoice.jid:
        return f"Plan {line.plan}, {month}"
    return f"Plan {line.plan} for {line.member}, {month}"


def invoice_page(
    invoice: Invoice,
    seller: InvoiceConfig,
    *,
    number: str,
    back: str,
    settle: str,
) -> str:
    """A printable invoice; ``number`` is the buyer's phone number ('' for none), ``settle``
    the forms that pay it (the account page's), '' when it is not to be paid from here."""
    code = invoice_number(seller.number_prefix, invoice.jid, invoice.period)
    body = (
        f'<nav class="no-print paper" aria-label="Back"><p><a href="{escape(back)}">'
        "Back to your account</a></p></nav>"
        f'<section class="paper" aria-labelledby="invoice-h">'
        f'<h1 id="invoice-h">Invoice {escape(code)}</h1>'
        '<p class="hint no-print">Print it, or save it as a PDF, with your browser\'s '
        "Print command.</p>"
        f"{_parties(invoice, seller, number)}{_facts(invoice, code)}{_lines(invoice)}"
        f"{_totals(invoice)}"
        + (f"<p>{escape(seller.tax_line)}</p>" if seller.tax_line else "")
        + (_pay(settle) if settle and invoice.open else "")
        + "</section>"
    )
    return document(f"Invoice {code}", body)


def _parties(invoice: Invoice, seller: InvoiceConfig, number: str) -> str:
    own = [seller.seller, *seller.address]
    if seller.tax_id:
        own.append(f"Tax ID: {seller.tax_id}")
    buyer = [invoice.jid] + ([number] if number else [])
    from_ = "<br>".join(escape(line) for line in own if line)
    to = "<br>".join(escape(line) for line in buyer)
    seller_block = f"<div><h2>From</h2><p>{from_}</p></div>" if from_ else ""
    return f'<div class="columns">{seller_block}<div><h2>To</h2><p>{to}</p></div></div>'


def _facts(invoice: Invoice, code: str) -> str:
    status = "Open" if invoice.open else "Paid"
    if not invoice.open and invoice.settled_at is not None:
        status = f"Paid on {day_label(invoice.settled_at)}"
    facts = [
        ("invoice-period", "Period", month_label(invoice.period)),
        ("invoice-issued", "Issued", day_label(invoice.issued_at)),
        ("invoice-status", "Status", status),
    ]
    items = "".join(
        f'<div><dt>{escape(name)}</dt><dd id="{ident}">{escape(value)}</dd></div>'
        for ident, name, value in facts
    )
    return f'<dl class="figures facts" aria-label="Invoice {escape(code)}">{items}</dl>'


def _lines(invoice: Invoice) -> str:
    rows = [
        (escape(line_description(invoice, ln)), _m(ln.amount), _m(ln.paid)) for ln in invoice.lines
    ]
    columns = (Column("Description"), Column("Amount", True), Column("Paid when charged", True))
    return table("Lines", columns, rows)


def _totals(invoice: Invoice) -> str:
    rows = "".join(
        f'<tr><th scope="row">{name}</th><td class="num" id="invoice-{name.lower()}">'
        f"{_m(amount)}</td></tr>"
        for name, amount in (("Total", invoice.total), ("Paid", invoice.paid), ("Due", invoice.due))
    )
    return f'<table class="totals" aria-label="Totals">{rows}</table>'


def _pay(settle: str) -> str:
    return (
        '<div class="no-print"><h2>Pay</h2><p>Paying settles your open invoices, smallest '
        f"first, as far as your balance covers them.</p>{settle}</div>"
    )


def confirm_page(
    question: str, action: str, token: str, fields: Sequence[tuple[str, str]], back: str
) -> str:
    """An operator's action, asked once more; nothing changes until it is confirmed."""
    inner = "".join(hidden(name, value) for name, value in fields) + button("Confirm")
    body = (
        "<h1>Please confirm</h1>"
        f"<p>{escape(question)}</p>"
        f"{post_form(action, token, inner, inline=True)}"
        f'<a class="button quiet" href="{escape(back)}">Cancel</a>'
    )
    return document("Please confirm", body)


def form_page(title: str, text: str, back: str) -> str:
    """What happened to a form that was not applied (a repeat, a missing token...)."""
    body = f'<h1>{escape(title)}</h1><p>{escape(text)}</p><p><a href="{escape(back)}">'
    body += "Back to the account page</a></p>"
    return document(title, body)

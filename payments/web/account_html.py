"""The pieces every account-page document is made of: the shell, the style, tables, forms.

Plain HTML and CSS (no JavaScript, no external resource: the CSP allows
neither). Laid out for a phone first; wider screens put charts beside
their tables. Text has at least 4.5:1 contrast, every control a label,
the focus is always visible, and print hides what only works on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from payments.web.forms import FIELD

STYLE: Final = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1c1e21}
main{max-width:66rem;margin:0 auto;padding:1rem .75rem 3rem}
h1{font-size:1.45rem;line-height:1.25;margin:.2rem 0}
h2{font-size:1.2rem;margin:0 0 .6rem}
h3{font-size:1.02rem;margin:1.1rem 0 .4rem}
p{margin:.4rem 0}
a{color:#1a4fb0}
.who{color:#4a4f57;overflow-wrap:anywhere;margin:0}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.2rem 1rem;padding:0;margin:.7rem 0 1rem}
nav a{display:inline-block;padding:.2rem 0}
section{background:#fff;border:1px solid #d5d9e0;border-radius:.7rem;padding:1rem;
margin:0 0 1rem;min-width:0}
.columns{display:grid;gap:0 1rem;align-items:start}
@media (min-width:50rem){.columns{grid-template-columns:1fr 1fr}
.beside{display:grid;grid-template-columns:3fr 2fr;gap:1.5rem;align-items:start}}
.figures{display:flex;flex-wrap:wrap;gap:.6rem 2rem;margin:0 0 .6rem}
.figures div{min-width:8rem}
.figures dt{color:#4a4f57;font-size:.9rem}
.figures dd{margin:0;font-size:1.45rem;font-weight:650;font-variant-numeric:tabular-nums}
.button,button{display:inline-block;padding:.65rem 1.1rem;border-radius:.55rem;
background:#1a5fd0;color:#fff;font:inherit;font-weight:600;text-decoration:none;
border:2px solid #1a5fd0;cursor:pointer;margin:.3rem .4rem .3rem 0}
.button.quiet,button.quiet{background:#fff;color:#1a4fb0}
form{margin:0}
form.inline{display:inline-block}
.actions{margin:.6rem 0 0}
.alert{background:#fdecea;border:2px solid #b3261e;border-radius:.7rem;padding:.8rem 1rem;
margin:0 0 1rem}
.alert h2{color:#8c1d18}
.note{background:#e7f2ea;border:2px solid #2e7d32;border-radius:.7rem;padding:.7rem 1rem;
margin:0 0 1rem}
.note.refused{background:#fdecea;border-color:#b3261e}
.operator{background:#e8f0fe;border:2px solid #1a4fb0;border-radius:.7rem;padding:.6rem 1rem;
margin:.6rem 0}
.usage{margin:0 0 .9rem}
.usage p{margin:0}
.bar{display:flex;height:.85rem;border-radius:.45rem;overflow:hidden;background:#dde2ea;
margin:.25rem 0}
.bar .allowance{background:#1a5fd0}
.bar .credits{background:#7b3fc4}
.key{display:inline-block;width:.8rem;height:.8rem;border-radius:.2rem;margin-right:.3rem;
vertical-align:-.05rem}
.key.allowance{background:#1a5fd0}
.key.credits{background:#7b3fc4}
.key.left{background:#dde2ea;border:1px solid #8a9099}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.94rem}
caption{text-align:left;font-weight:600;padding:0 0 .3rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e7ee;vertical-align:top}
th{font-weight:600;color:#33373d}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.date{white-space:nowrap}
.paper{max-width:48rem;margin:0 auto}
.facts dd{font-size:1.05rem}
table.totals{width:auto;margin:.8rem 0 0 auto;font-size:1rem}
table.totals th{padding-right:2rem}
table.totals tr:last-child{font-weight:700}
.small-charts{display:grid;gap:.4rem 1rem}
@media (min-width:34rem) and (max-width:49.99rem){.small-charts{grid-template-columns:1fr 1fr}}
figure{margin:0 0 .8rem}
figcaption{font-weight:600;font-size:.95rem}
svg.chart{width:100%;max-width:34rem;height:auto;display:block;margin:.2rem 0 0}
svg.chart rect{fill:#1a5fd0}
svg.chart text{font-size:12px;fill:#3d424a}
svg.chart .grid{stroke:#e1e5eb}
svg.chart .axis{stroke:#6b717a}
details{border-top:1px solid #e3e7ee}
details:first-of-type{border-top:0}
summary{cursor:pointer;padding:.5rem 0;font-weight:600}
fieldset{border:0;padding:0;margin:.4rem 0}
legend{font-weight:600;padding:0;margin:0 0 .3rem}
label{display:block;margin:.5rem 0 .2rem;font-weight:600}
label.choice{display:flex;gap:.5rem;align-items:flex-start;font-weight:400;margin:.35rem 0}
label.choice input{margin:.3rem 0 0;width:1.1rem;height:1.1rem;flex:none}
input[type=text],select{font:inherit;padding:.55rem;border:1px solid #6b717a;
border-radius:.45rem;width:100%;max-width:22rem;background:#fff;color:#1c1e21}
.hint{color:#4a4f57;font-size:.92rem}
:focus-visible{outline:3px solid #c25e00;outline-offset:2px}
.print-only{display:none}
@media print{body{background:#fff;font-size:12pt}main{max-width:none;padding:0}
section{border:0;padding:0}.no-print,nav,form,.button{display:none!important}
.print-only{display:block}}
"""


def document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    numeric: bool = False
    date: bool = False  # kept on one line


def table(caption: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> str:
    """A data table (cells are HTML already escaped), scrollable sideways on a phone; the
    scrolling region is focusable so that keyboard users can scroll it too."""
    head = "".join(f'<th scope="col"{_num(c)}>{escape(c.name)}</th>' for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td{_num(c)}>{cell}</td>" for c, cell in zip(columns, row, strict=True))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _num(column: Column) -> str:
    if column.numeric:
        return ' class="num"'
    return ' class="date"' if column.date else ""


def post_form(action_url: str, token: str, inner: str, *, inline: bool = False) -> str:
    """A form posting to ``action_url`` with its token; ``inner`` holds fields and buttons."""
    klass = ' class="inline"' if inline else ""
    return (
        f'<form method="post" action="{escape(action_url)}"{klass}>'
        f'<input type="hidden" name="{FIELD}" value="{escape(token)}">{inner}</form>'
    )


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def button(text: str, *, quiet: bool = False) -> str:
    klass = ' class="quiet"' if quiet else ""
    return f'<button type="submit"{klass}>{escape(text)}</button>'


def link_button(url: str, text: str, *, quiet: bool = False) -> str:
    klass = "button quiet" if quiet else "button"
    return f'<a class="{klass}" href="{escape(url)}">{escape(text)}</a>'

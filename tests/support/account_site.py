"""Helpers of the account page's tests: the web service on a real port, links, and the
page read back as data (its forms, figures and tables), the way a browser sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser

import aiohttp
from aiohttp import web

from payments.config import Config, InvoiceConfig
from payments.stores import Store
from payments.web.links import account_url
from payments.web.state import CONFIG
from tests.support.webfakes import running_service

SELLER = InvoiceConfig(
    seller="Example Telecom Ltd",
    address=("1 Harbour Street", "Bristol BS1 4QA", "United Kingdom"),
    tax_id="GB 123 4567 89",
    tax_line="Prices include VAT at 20%.",
    number_prefix="INV-",
)


@dataclass
class PageForm:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class PageReader(HTMLParser):
    """The forms, the texts by element id, the table cells and the scripts of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self.by_id: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}  # caption -> rows of cell texts
        self.scripts = 0
        self._form: PageForm | None = None
        self._ids: list[tuple[str, str]] = []  # (tag, id) open
        self._texts: dict[str, list[str]] = {}
        self._button: list[str] | None = None
        self._caption: list[str] | None = None
        self._table = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "br":
            self.handle_data(" ")
        if tag == "script":
            self.scripts += 1
        if tag == "form":
            self._form = PageForm(a.get("action", ""))
            self.forms.append(self._form)
        if tag == "input" and self._form is not None and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("hidden", "text") or (kind == "radio" and "checked" in a):
                self._form.fields[a["name"]] = a.get("value", "")
        if tag == "button":
            self._button = []
        if "id" in a:
            self._ids.append((tag, a["id"]))
            self._texts[a["id"]] = []
        if tag == "caption":
            self._caption = []
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if tag == "button" and self._button is not None and self._form is not None:
            self._form.buttons.append(" ".join("".join(self._button).split()))
            self._button = None
        if self._ids and self._ids[-1][0] == tag:
            _, ident = self._ids.pop()
            self.by_id[ident] = " ".join("".join(self._texts.pop(ident)).split())
        if tag == "caption" and self._caption is not None:
            self._table = " ".join("".join(self._caption).split())
            self.tables[self._table] = []
            self._caption = None
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._table in self.tables:
                self.tables[self._table].append(self._row)
            self._row = None
        if tag == "table":
            self._table = ""

    def handle_data(self, data: str) -> None:
        for parts in self._texts.values():
            parts.append(data)
        for collecting in (self._button, self._caption, self._cell):
            if collecting is not None:
                collecting.append(data)

    def form(self, action_end: str, button: str = "") -> PageForm:
        """The form posting to ``…/action_end`` (with a button that says ``button``)."""
        found = [
            f
            for f in self.forms
            if f.action.endswith("/" + action_end) and any(button in b for b in f.buttons)
        ]
        assert found, f"no form {action_end!r} {button!r} in {[f.action for f in self.forms]}"
        return found[0]


def read_page(text: str) -> PageReader:
    reader = PageReader()
    reader.feed(text)
    reader.close()
    return reader


@dataclass
class Site:
    base: str
    app: web.Application
    store: Store
    http: aiohttp.ClientSession

    @property
    def config(self) -> Config:
        return self.app[CONFIG]

    def link(self, jid: str, *, operator: str = "") -> str:
        return account_url(self.config, jid, datetime.now(UTC), operator=operator)

    async def get(self, url: str) -> tuple[int, str]:
        async with self.http.get(url, allow_redirects=False) as response:
            return response.status, await response.text()

    async def page(self, url: str) -> PageReader:
        status, text = await self.get(url)
        assert status == 200, text
        return read_page(text)

    async def post(self, url: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """(status, body, Location) of a form submission, redirects not followed."""
        async with self.http.post(url, data=fields, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers.get("Location", "")

    async def submit(self, form: PageForm, **changes: str) -> tuple[int, str, str]:
        return await self.post(form.action, {**form.fields, **changes})


@asynccontextmanager
async def account_site(store: Store, redis_url: str) -> AsyncIterator[Site]:
    async with (
        running_service(redis_url, invoice=SELLER) as (base, app),
        aiohttp.ClientSession() as http,
    ):
        yield Site(base, app, store, http)

"""Reading a /metrics page with Prometheus's own parser."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Samples:
    """Every sample on the page: (name, sorted labels) -> value."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return parse(await response.text())


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

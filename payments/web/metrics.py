"""Prometheus metrics of the web service, in the text exposition format (written by hand).

Counters live in the process: each web process is scraped on its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Counter:
    name: str
    help: str
    values: dict[Labels, int] = field(default_factory=lambda: defaultdict(int))

    def inc(self, amount: int = 1, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def get(self, **labels: str) -> int:
        return self.values.get(tuple(sorted(labels.items())), 0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(labels)} {value}"


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[key] += value

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, None), counts, strict=True):
                running += count
                le = "le=" + ('"+Inf"' if bound is None else f'"{bound!r}"')
                yield f"{self.name}_bucket{_labels(labels, le)} {running}"
            yield f"{self.name}_sum{_labels(labels)} {self.sums[labels]!r}"
            yield f"{self.name}_count{_labels(labels)} {running}"


class Metrics:
    def __init__(self, providers: Iterable[str] = ()) -> None:
        self.credits = Counter(
            "accountbot_payments_credited_total", "Payments credited, by provider."
        )
        self.replays = Counter(
            "accountbot_payments_replayed_total",
            "Completed-payment webhooks for a payment already credited, by provider.",
        )
        self.refusals = Counter(
            "accountbot_webhook_refusals_total", "Webhooks refused, by provider and reason."
        )
        self.usage_events = Counter(
            "accountbot_usage_events_total",
            "Gateway usage events, by outcome (counted, duplicate, unknown_account).",
        )
        self.authorizations = Counter(
            "accountbot_authorizations_total",
            "Gateway authorize answers, by resource and decision (allowed or the reason).",
        )
        self.gateway_refusals = Counter(
            "accountbot_gateway_refusals_total", "Gateway requests refused, by endpoint and reason."
        )
        self.latency = Histogram(
            "accountbot_http_request_duration_seconds",
            "Time to answer HTTP requests, by method, route and status.",
        )
        for name in providers:
            self.credits.inc(0, provider=name)
            self.replays.inc(0, provider=name)

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.credits,
            self.replays,
            self.refusals,
            self.usage_events,
            self.authorizations,
            self.gateway_refusals,
            self.latency,
        ):
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"

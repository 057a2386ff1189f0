"""Prometheus metrics of the web service, through ``prometheus-client``.

Each ``Metrics`` has a registry of its own (one per application: tests build
several in one process); each web process is scraped on its own. The small
wrappers name their labels once and read a value back for tests and benches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram as PromHistogram

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Counter:
    """A counter with named labels; ``inc(provider="stripe")``."""

    def __init__(
        self, registry: CollectorRegistry, name: str, help_text: str, labels: Iterable[str]
    ) -> None:
        self.name = name
        self._registry = registry
        self._counter = PromCounter(
            name.removesuffix("_total"), help_text, tuple(labels), registry=registry
        )

    def inc(self, amount: int = 1, **labels: str) -> None:
        self._counter.labels(**labels).inc(amount)

    def get(self, **labels: str) -> int:
        value = self._registry.get_sample_value(self.name, labels)
        return int(value or 0)


class Histogram:
    """A histogram with named labels; ``observe(0.02, route="/healthz")``."""

    def __init__(
        self, registry: CollectorRegistry, name: str, help_text: str, labels: Iterable[str]
    ) -> None:
        self._histogram = PromHistogram(
            name, help_text, tuple(labels), buckets=LATENCY_BUCKETS, registry=registry
        )

    def observe(self, value: float, **labels: str) -> None:
        self._histogram.labels(**labels).observe(value)


class Metrics:
    def __init__(self, providers: Iterable[str] = ()) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
        self.registry = CollectorRegistry(auto_describe=True)

        def counter(name: str, help_text: str, *labels: str) -> Counter:
            return Counter(self.registry, name, help_text, labels)

        self.credits = counter(
            "accountbot_payments_credited_total", "Payments credited, by provider.", "provider"
        )
        self.credited_units = counter(
            "accountbot_payments_credited_units_total",
            "Money credited by payments, in 1/10000 of the currency, by provider and currency "
            "(amounts of two currencies are never added).",
            "provider",
            "currency",
        )
        self.replays = counter(
            "accountbot_payments_replayed_total",
            "Completed-payment webhooks for a payment already credited, by provider.",
            "provider",
        )
        self.refusals = counter(
            "accountbot_webhook_refusals_total",
            "Webhooks refused, by provider and reason.",
            "provider",
            "reason",
        )
        self.usage_events = counter(
            "accountbot_usage_events_total",
            "Gateway usage events, by outcome (counted, duplicate, unknown_account).",
            "status",
        )
        self.authorizations = counter(
            "accountbot_authorizations_total",
            "Gateway authorize answers, by resource and decision (allowed or the reason).",
            "resource",
            "decision",
        )
        self.gateway_refusals = counter(
            "accountbot_gateway_refusals_total",
            "Gateway requests refused, by endpoint and reason.",
            "endpoint",
            "reason",
        )
        self.latency = Histogram(
            self.registry,
            "accountbot_http_request_duration_seconds",
            "Time to answer HTTP requests, by method, route and status.",
            ("method", "route", "status"),
        )
        for name in providers:
            self.credits.inc(0, provider=name)
            self.replays.inc(0, provider=name)

    def render(self) -> str:
        return generate_latest(self.registry).decode("utf-8")

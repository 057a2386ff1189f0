"""The web service's metrics: Prometheus exposition through prometheus-client."""

from __future__ import annotations

from payments.web.metrics import Metrics
from tests.support.scrape import parse


def test_metrics_are_valid_prometheus_exposition() -> None:
    metrics = Metrics(["stripe"])
    metrics.credits.inc(provider="stripe")
    metrics.refusals.inc(provider="btcpay", reason="bad_signature")
    for seconds in (0.001, 0.02, 0.02, 7.0):
        metrics.latency.observe(seconds, method="POST", route="/webhooks/{provider}", status="200")
    text = metrics.render()
    found = parse(text)
    assert found[("accountbot_payments_credited_total", (("provider", "stripe"),))] == 1
    assert found[("accountbot_payments_replayed_total", (("provider", "stripe"),))] == 0
    refusal = (("provider", "btcpay"), ("reason", "bad_signature"))
    assert found[("accountbot_webhook_refusals_total", refusal)] == 1
    route = (("method", "POST"), ("route", "/webhooks/{provider}"), ("status", "200"))
    name = "accountbot_http_request_duration_seconds"
    assert found[(f"{name}_bucket", tuple(sorted((*route, ("le", "0.005")))))] == 1
    assert found[(f"{name}_bucket", tuple(sorted((*route, ("le", "0.025")))))] == 3
    assert found[(f"{name}_bucket", tuple(sorted((*route, ("le", "+Inf")))))] == 4
    assert found[(f"{name}_count", route)] == 4
    assert "# TYPE accountbot_http_request_duration_seconds histogram" in text
    assert "_created" not in text


def test_counts_read_back_by_labels() -> None:
    metrics = Metrics()
    metrics.usage_events.inc(3, status="counted")
    assert metrics.usage_events.get(status="counted") == 3
    assert metrics.usage_events.get(status="duplicate") == 0

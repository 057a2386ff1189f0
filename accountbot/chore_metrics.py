"""The chores' results for Prometheus: node-exporter textfiles (``[metrics] chores_textfile_dir``).

Each chore run writes ``accountbot_chore_NAME.prom`` in that directory (atomically:
a temporary file renamed), which node-exporter's textfile collector serves:
when it last ran, how long it took, how many accounts were due, what it did,
its errors, and whether another host held the lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from payments.chores.runner import ChoreReport


def write_textfiles(directory: Path, reports: Iterable[ChoreReport]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for report in reports:
        path = directory / f"accountbot_chore_{report.name.replace('-', '_')}.prom"
        write_to_textfile(str(path), registry_of(report, time.time()))
        written.append(path)
    return written


def registry_of(report: ChoreReport, finished: float) -> CollectorRegistry:
    registry = CollectorRegistry()

    def gauge(name: str, help_text: str, value: float) -> None:
        metric = Gauge(f"accountbot_chore_{name}", help_text, ("chore",), registry=registry)
        metric.labels(report.name).set(value)

    gauge("last_run_timestamp_seconds", "When the chore last ended (Unix time).", finished)
    gauge("duration_seconds", "How long its last run took.", report.elapsed)
    gauge("due", "Accounts due in its last run.", report.due)
    gauge("errors", "Accounts it could not handle in its last run.", report.errors)
    gauge("skipped", "1 when another host held the chore's lock.", int(bool(report.skipped_by)))
    gauge("stopped", "1 when it was stopped before the end (SIGTERM).", int(report.stopped))
    done = Gauge(
        "accountbot_chore_done",
        "What its last run did, by kind (renewed, settled, ...).",
        ("chore", "what"),
        registry=registry,
    )
    for what, count in sorted(report.counts.items()):
        done.labels(report.name, what).set(count)
    return registry

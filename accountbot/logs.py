"""Logging of every accountbot process: readable text, or one JSON object per line.

``[log] format = "json"`` writes each record as one JSON object on one line
(``time``, ``level``, ``logger``, ``message``, and the record's ``fields``:
the bot's request lines carry ``account``, ``command``, ``outcome``,
``face`` and ``ms``), ready for a log shipper. Text is the default. Nothing
secret is ever a field: config secrets print as ``Secret('**********')``,
and request lines name the command, never what was typed after it (a
voucher code, a referral code).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

from payments.config import LogConfig

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(config: LogConfig, level: str | None = None) -> None:
    """The root logger writes to stderr in ``config.format``; ``level`` overrides the config."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if config.format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or config.level)

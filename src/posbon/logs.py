"""Logging set-up: `POSBON_LOG_FORMAT=json` makes posbon's log lines one JSON object each.

Written here rather than taken from python-json-logger: it is a dozen lines and one dependency less.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

# LogRecord attributes that are not `extra=` fields
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, any `extra=` fields,
    and the traceback as `exc_info` when there is one. Never more than one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.WARNING, stream: IO[str] | None = None) -> logging.Handler:
    """Send the "posbon" loggers to `stream` (stderr), as JSON lines when POSBON_LOG_FORMAT=json, else as
    plain text. Replaces the handler an earlier call installed; returns the new handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if os.environ.get("POSBON_LOG_FORMAT", "").strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("posbon")
    logger = logging.getLogger("posbon")
    for old in [h for h in logger.handlers if h.get_name() == "posbon"]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler

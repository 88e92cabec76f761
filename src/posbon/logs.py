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

# LogRecord attributes that are not `extra=` fields (uvicorn's color_message repeats the message in ANSI)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


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


# Libraries whose warnings reach an operator; without a handler of their own, Python's last-resort
# handler would print them bare (no time, not JSON), breaking the one-format log a collector expects.
_LIBRARY_LOGGERS = ("psycopg", "sqlalchemy")


class _DropIgnoredCleanupErrors(logging.Filter):
    """psycopg warns "error ignored terminating <Pipeline>: the connection is lost" when a connection
    drops during a batched statement. The error itself has already been raised to posbon, which reports
    the outage in its own line; the cleanup echo only doubles it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("psycopg") and str(record.msg).startswith("error ignored"))


def json_logs() -> bool:
    return os.environ.get("POSBON_LOG_FORMAT", "").strip().lower() == "json"


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging set-up for `posbon serve`: its own (plain lines) by default; with
    POSBON_LOG_FORMAT=json its start-up, error and access lines are JSON objects too, tracebacks of
    failed requests included (in `exc_info`), so a log collector reads one format from every process."""
    from uvicorn.config import LOGGING_CONFIG

    if not json_logs():
        return LOGGING_CONFIG
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "posbon.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["json"], "level": "INFO", "propagate": False},
        },
    }


def configure_logging(level: int = logging.WARNING, stream: IO[str] | None = None) -> logging.Handler:
    """Send the "posbon" loggers, and the warnings of the database libraries, to `stream` (stderr), as
    JSON lines when POSBON_LOG_FORMAT=json, else as plain text. Replaces the handler an earlier call
    installed; returns the new handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_logs():
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("posbon")
    handler.addFilter(_DropIgnoredCleanupErrors())
    logger = logging.getLogger("posbon")
    _replace_handler(logger, handler)
    logger.setLevel(level)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        _replace_handler(library, handler)
        library.setLevel(max(level, logging.WARNING))  # their INFO/DEBUG is for debugging them, not posbon
    return handler


def _replace_handler(logger: logging.Logger, handler: logging.Handler) -> None:
    for old in [h for h in logger.handlers if h.get_name() == "posbon"]:
        logger.removeHandler(old)
    logger.addHandler(handler)

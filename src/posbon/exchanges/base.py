"""What every exchange adapter shares: configuration and credentials, one-line errors that never show a
secret, and the shape of a fetch (batches of updates, each with the checkpoint reached after it).

The network clients are python-threatexchange's (`threatexchange.exchanges`); posbon's adapters extend its
SignalExchangeAPI classes and turn their records into posbon bank entries, keeping labels the library drops.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import requests
import yaml

from posbon.domain import Problem
from posbon.store.db import ExchangeUpdate


class ExchangeError(Exception):
    """A fetch that could not be done; one line, never a credential. Nothing was stored."""


@dataclass
class Batch:
    """Updates fetched in one request, and the checkpoint to resume from after them."""

    updates: list[ExchangeUpdate]
    checkpoint: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


class ExchangeConfig:
    """Settings of one exchange: the environment (POSBON_<PREFIX>_<KEY>) wins over the config file's
    section for the exchange (TOML or YAML: `[tat]`, `tat:`). Values named as secrets are remembered so
    every message and log line can be scrubbed of them."""

    def __init__(self, exchange: str, env_prefix: str, file_values: Mapping[str, Any], source: str) -> None:
        self.exchange = exchange
        self.env_prefix = env_prefix
        self._file = {str(k).lower(): v for k, v in file_values.items()}
        self.source = source
        self.secrets: set[str] = set()

    def get(self, key: str, *, secret: bool = False, required: bool = False) -> str | None:
        env_name = f"POSBON_{self.env_prefix}_{key.upper()}"
        value = os.environ.get(env_name)
        if not value:
            raw = self._file.get(key.lower())
            value = str(raw) if raw not in (None, "") else None
        if value and secret:
            self.secrets.add(value)
        if required and not value:
            where = f" or `{key.lower()}` in [{self.exchange}] of {self.source}" if self.source else ""
            what = "credential" if secret else "setting"
            raise ExchangeError(f"{self.exchange}: missing {what} {env_name}{where}")
        return value


def load_config(exchange: str, env_prefix: str, path: Path | None) -> ExchangeConfig:
    """The exchange's section of a TOML/YAML config file (if given) plus the environment."""
    if path is None:
        return ExchangeConfig(exchange, env_prefix, {}, "")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExchangeError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        # the parsers quote the offending line, which may hold a secret: say only where
        where = getattr(exc, "problem_mark", None) or getattr(exc, "lineno", None)
        raise ExchangeError(f"{path}: not valid TOML/YAML (near {where or 'unknown position'})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ExchangeError(f"{path}: expected a table/mapping with a section per exchange")
    section = data.get(exchange, {})
    if not isinstance(section, dict):
        raise ExchangeError(f"{path}: section {exchange!r} must be a table/mapping")
    return ExchangeConfig(exchange, env_prefix, section, str(path))


_URL_QUERY = re.compile(r"(https?://[^\s?'\"]*)\?[^\s'\")]*")
_TOKEN_PARAM = re.compile(r"((?:access_token|token|key|password)=)[^&\s'\"]*", re.IGNORECASE)


def _hide(text: str, secrets: set[str]) -> str:
    """Every secret (as is, and URL-encoded as clients send it) and every token-like parameter -> ***."""
    forms = {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return _TOKEN_PARAM.sub(r"\1***", text)


def scrub(message: str, secrets: set[str]) -> str:
    """First line of a message, with query strings (where tokens travel) and every secret removed."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    return _hide(_URL_QUERY.sub(r"\1?…", line), secrets)


def describe_error(exc: BaseException, secrets: set[str]) -> str:
    """A one-line, secret-free account of a failed request."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        response = exc.response
        url = response.url.split("?", 1)[0]
        return scrub(f"server answered {response.status_code} {response.reason or ''} for {url}", secrets)
    if isinstance(exc, requests.exceptions.RetryError):
        return scrub(f"server kept failing after retries: {exc}", secrets)
    if isinstance(exc, requests.ConnectionError):
        return scrub(f"cannot connect: {exc}", secrets)
    if isinstance(exc, requests.Timeout):
        return "the server did not answer in time"
    if isinstance(exc, ValueError | KeyError | TypeError):
        return scrub(f"unexpected answer from the server ({type(exc).__name__}: {exc})", secrets)
    return scrub(f"{type(exc).__name__}: {exc}", secrets)


class _Redact(logging.Filter):
    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _hide(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# loggers the network clients write to: threatexchange logs on the root logger, requests through urllib3
_CLIENT_LOGGERS = ("", "urllib3.connectionpool", "urllib3.util.retry", "requests", "threatexchange")


@contextmanager
def redacted_logs(secrets: set[str]) -> Iterator[None]:
    """While fetching, scrub secrets (and token-bearing query strings) from the clients' log records."""
    redact = _Redact(secrets)
    loggers = [logging.getLogger(name) for name in _CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)


class Exchange(ABC):
    """A source of bank entries. `fetch` yields batches; the caller stores them all in one transaction."""

    name: str = ""
    env_prefix: str = ""
    # True when every fetch returns the whole list (a file): entries it no longer holds are deleted
    full_snapshot: bool = False

    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config

    @property
    def secrets(self) -> set[str]:
        return self.config.secrets

    @abstractmethod
    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[Batch]:
        """Batches of updates since `checkpoint` (None: from the start)."""

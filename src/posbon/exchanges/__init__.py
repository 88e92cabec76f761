"""Hash lists fetched from exchanges into banks: `posbon bank fetch BANK --exchange tat|threatexchange|...`.

A fetch resumes from the checkpoint the last successful fetch of that bank from that exchange stored, and
is applied in one transaction together with its new checkpoint: a fetch that fails half-way stores nothing
and keeps the previous checkpoint, so running it again is always safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posbon.domain import Problem
from posbon.exchanges.base import Batch, Exchange, ExchangeError, describe_error, load_config, redacted_logs
from posbon.exchanges.file import FileExchange
from posbon.exchanges.ncmec import NCMECExchange
from posbon.exchanges.stopncii import StopNCIIExchange
from posbon.exchanges.tat import TatExchange
from posbon.exchanges.threatexchange import ThreatExchangeExchange
from posbon.store.db import ExchangeUpdate, FetchResult, Store

EXCHANGES: dict[str, type[Exchange]] = {
    "tat": TatExchange,
    "threatexchange": ThreatExchangeExchange,
    "stopncii": StopNCIIExchange,
    "ncmec": NCMECExchange,
    "file": FileExchange,
}


@dataclass
class FetchSummary:
    exchange: str
    bank: str
    result: FetchResult
    fetched: int = 0  # records received (updates and deletions)
    pages: int = 0
    problems: list[Problem] = field(default_factory=list)
    checkpoint: dict[str, Any] = field(default_factory=dict)


def make_exchange(name: str, config_file: Path | None = None) -> Exchange:
    cls = EXCHANGES.get(name)
    if cls is None:
        raise ExchangeError(f"unknown exchange {name!r}: use one of {', '.join(EXCHANGES)}")
    return cls(load_config(name, cls.env_prefix, config_file))


def fetch_into_bank(store: Store, bank: str, exchange: Exchange) -> FetchSummary:
    """Fetch what is new since the bank's checkpoint for this exchange, and store it all or nothing.

    Raises ExchangeError (one line, no credentials) when the exchange cannot be read; StoreError when the
    bank does not exist or the store cannot be written.
    """
    previous = store.exchange_checkpoint(bank, exchange.name)
    batches: list[Batch] = []
    with redacted_logs(exchange.secrets):
        try:
            for batch in exchange.fetch(previous):
                batches.append(batch)
        except ExchangeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the client: one line, nothing stored
            reason = describe_error(exc, exchange.secrets)
            raise ExchangeError(
                f"{exchange.name}: fetch failed, nothing stored (previous checkpoint kept): {reason}"
            ) from None
    updates: list[ExchangeUpdate] = [u for b in batches for u in b.updates]
    checkpoint = batches[-1].checkpoint if batches else (previous or {})
    result = store.apply_exchange_fetch(
        bank, exchange.name, updates, checkpoint, full_snapshot=exchange.full_snapshot
    )
    return FetchSummary(
        exchange=exchange.name,
        bank=bank,
        result=result,
        fetched=len(updates),
        pages=len(batches),
        problems=[p for b in batches for p in b.problems],
        checkpoint=checkpoint,
    )


__all__ = ["EXCHANGES", "Exchange", "ExchangeError", "FetchSummary", "fetch_into_bank", "make_exchange"]

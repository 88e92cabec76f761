"""Tech Against Terrorism's hash list, through threatexchange's TAT client, keeping each hash's ideology.

threatexchange's `TATSignalExchangeAPI.fetch_iter` stores an empty metadata record per hash, dropping the
ideology, file type and TAT id the API sends; the subclass here keeps them, and takes a base URL.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.clients.techagainstterrorism import api as tat_api
from threatexchange.exchanges.impl.techagainstterrorism_api import TATCheckpoint, TATSignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType as TxSignalType

from posbon.domain import Problem, SignalType
from posbon.exchanges.base import Batch, Exchange
from posbon.match.banklist import InvalidEntry, validate_signal
from posbon.store.db import ExchangeUpdate

DEFAULT_BASE_URL = tat_api.TATHashListAPI.BASE_URL
_ALGORITHMS = {"PDQ": SignalType.PDQ, "MD5": SignalType.MD5}


@dataclass
class TATHashMetadata(state.FetchedSignalMetadata):
    """What TAT says about one hash (FetchedSignalMetadata carries nothing of it)."""

    tat_id: int
    algorithm: str
    ideology: str
    file_type: str
    updated_on: float


class _TATClient(tat_api.TATHashListAPI):
    """The library's client, pointed at another base URL (a mirror, or a test server)."""

    def __init__(self, username: str, password: str, base_url: str) -> None:
        super().__init__(username, password)
        self.BASE_URL = base_url.rstrip("/") + "/"  # type: ignore[misc]  # ClassVar shadowed per instance


TATDelta = state.FetchDelta[t.Tuple[str, str], TATHashMetadata, TATCheckpoint]  # noqa: UP006


class LabelledTATSignalExchangeAPI(TATSignalExchangeAPI):
    """TATSignalExchangeAPI whose fetch keeps each record's labels; keys stay (algorithm, hash)."""

    def __init__(self, username: str, password: str, base_url: str = DEFAULT_BASE_URL) -> None:
        super().__init__(username=username, password=password)
        self.base_url = base_url

    def get_client(self) -> tat_api.TATHashListAPI:
        return _TATClient(self.username, self.password, self.base_url)

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[type[TxSignalType]],
        checkpoint: TATCheckpoint | None,
    ) -> Iterator[TATDelta]:
        after = checkpoint.checkpoint if checkpoint is not None else ""
        for page in self.get_client().fetch_hashes_iter(after):
            updates: dict[tuple[str, str], TATHashMetadata | None] = {}
            for record in page.results:
                ideology = getattr(record.ideology, "value", record.ideology)
                metadata = TATHashMetadata(
                    tat_id=int(record.id),
                    algorithm=str(record.algorithm),
                    ideology=str(ideology),
                    file_type=str(record.file_type),
                    updated_on=float(record.updated_on),
                )
                updates[str(record.algorithm), str(record.hash_digest)] = None if record.deleted else metadata
            yield state.FetchDelta(updates, TATCheckpoint(page.checkpoint) if page.checkpoint else checkpoint)  # type: ignore[arg-type]


class TatExchange(Exchange):
    name = "tat"
    env_prefix = "TAT"

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[Batch]:
        username = self.config.get("username", secret=True, required=True)
        password = self.config.get("password", secret=True, required=True)
        base_url = self.config.get("base_url") or DEFAULT_BASE_URL
        assert username is not None and password is not None
        api = LabelledTATSignalExchangeAPI(username, password, base_url)
        stored = str((checkpoint or {}).get("checkpoint") or "")
        previous = TATCheckpoint(stored) if stored else None
        last = previous
        for delta in api.fetch_iter([], previous):
            last = delta.checkpoint or last
            updates: list[ExchangeUpdate] = []
            problems: list[Problem] = []
            for (algorithm, digest), metadata in delta.updates.items():
                signal_type = _ALGORITHMS.get(algorithm.upper())
                where = f"tat hash list ({algorithm} {digest[:16]})"
                if signal_type is None:
                    message = f"algorithm {algorithm!r} not supported; skipped"
                    problems.append(Problem(where, None, message, note=True))
                    continue
                try:
                    value, _ = validate_signal(signal_type, digest)
                except InvalidEntry as exc:
                    problems.append(Problem(where, None, str(exc)))
                    continue
                if metadata is None:
                    updates.append(ExchangeUpdate(signal_type, value, deleted=True))
                    continue
                extra = {
                    "ideology": metadata.ideology,
                    "file_type": metadata.file_type,
                    "tat_id": metadata.tat_id,
                    "updated_on": metadata.updated_on,
                }
                label = f"TAT {metadata.ideology} {metadata.file_type}".strip()
                updates.append(ExchangeUpdate(signal_type, value, label, extra))
            yield Batch(updates, {"checkpoint": last.checkpoint if last else ""}, problems)

"""A local signal file in threatexchange's format ("<signal_type> <signal>" per line), read by its
`LocalFileSignalExchangeAPI`. Every fetch returns the whole file, so entries the file no longer lists are
deleted from the bank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

from posbon.domain import Problem
from posbon.exchanges.base import Batch, Exchange, ExchangeError
from posbon.match.banklist import SIGNAL_TYPE_NAMES, InvalidEntry, validate_signal
from posbon.store.db import ExchangeUpdate


class FileExchange(Exchange):
    name = "file"
    env_prefix = "FILE"
    full_snapshot = True

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[Batch]:
        path_text = self.config.get("path", required=True)
        assert path_text is not None
        path = Path(path_text).expanduser()
        if not path.is_file():
            raise ExchangeError(f"file: {path}: no such file")
        collab = FileCollaborationConfig(
            name=f"posbon-{path.name}", filename=str(path), signal_type=self.config.get("signal_type")
        )
        label = self.config.get("label")
        try:
            deltas = list(LocalFileSignalExchangeAPI(collab).fetch_iter([], None))
        except (OSError, UnicodeDecodeError) as exc:
            raise ExchangeError(f"file: {path}: cannot read: {exc}") from None
        updates: list[ExchangeUpdate] = []
        problems: list[Problem] = []
        for delta in deltas:
            for type_name, signal in delta.updates:
                signal_type = SIGNAL_TYPE_NAMES.get(type_name.lower())
                if signal_type is None:
                    problems.append(Problem(str(path), None, f"unknown signal type {type_name!r}"))
                    continue
                try:
                    value, _ = validate_signal(signal_type, signal)
                except InvalidEntry as exc:
                    problems.append(Problem(str(path), None, str(exc)))
                    continue
                updates.append(ExchangeUpdate(signal_type, value, label, {"file": path.name}))
        yield Batch(updates, {"file": str(path), "entries": len(updates)}, problems)

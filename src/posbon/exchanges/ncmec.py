"""NCMEC's hash-sharing API (XML, /v2/entries), through threatexchange's NCMEC client and fetch loop.

threatexchange's `NCMECSignalExchangeAPI.fetch_iter` walks `from`/`to` time windows (shrinking them when a
window is too full, following `nextUrl` pages) and yields a checkpoint after every page; posbon stores that
checkpoint (the window start, and the page URL when stopped mid-window) with the bank.

NCMEC shares entries (an image or video uploaded by a member, with several fingerprints), and a deletion
is a tombstone naming only the entry (member and id), without its fingerprints. posbon's banks hold
fingerprints, so this adapter keeps a small entry index (SQLite, `entry_index`, by default
DATA_DIR/ncmec-entries.sqlite): entry -> the fingerprints banked for it. A tombstone, or an entry updated
with other fingerprints, withdraws the fingerprints no other live entry still carries. The index is only
ever added to or marked, so a fetch that fails after it was written and is run again does the same.

Fingerprints posbon banks: md5 (images and videos) and pdq (images). Others (sha1, PhotoDNA, NetClean,
Videntifier, TMK) are counted in one note per fetch page.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from threatexchange.exchanges.clients.ncmec import hash_api
from threatexchange.exchanges.impl.ncmec_api import (
    NCMECCheckpoint,
    NCMECCollabConfig,
    NCMECSignalExchangeAPI,
    _NCMECPagingInfo,
)

from posbon.domain import Problem, SignalType
from posbon.exchanges.base import Batch, Exchange, ExchangeError
from posbon.match.banklist import InvalidEntry, validate_signal
from posbon.settings import DEFAULT_DATA_DIR
from posbon.store.db import ExchangeUpdate

DEFAULT_ENVIRONMENT = hash_api.NCMECEnvironment.Industry
FINGERPRINTS = {"md5": SignalType.MD5, "pdq": SignalType.PDQ}


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Client(hash_api.NCMECHashAPI):
    """threatexchange's client with its base URL overridable (a test server, another NCMEC database), and
    its time windows written in UTC: the library writes local time followed by "Z", which east of UTC
    skips entries for good (the next window starts after them)."""

    def __init__(self, user: str, password: str, base_url: str) -> None:
        super().__init__(user, password, DEFAULT_ENVIRONMENT)
        self._base_url = base_url.rstrip("/")

    def get_entries(
        self, *, start_timestamp: int = 0, end_timestamp: int = 0, next_: str = ""
    ) -> hash_api.GetEntriesResponse:
        end = end_timestamp or int(time.time())
        window = {"from": _utc(start_timestamp), "to": _utc(end)}
        response = self._get(hash_api.NCMECEndpoint.entries, next_=next_, **window)
        return hash_api.GetEntriesResponse.from_xml(hash_api._XMLWrapper(response), int(time.time()))


class _Api(NCMECSignalExchangeAPI):
    def __init__(self, collab: NCMECCollabConfig, user: str, password: str, base_url: str) -> None:
        super().__init__(collab, user, password)
        self._base = base_url

    def get_client(self, environment: hash_api.NCMECEnvironment) -> hash_api.NCMECHashAPI:
        return _Client(self._username, self._password, self._base)


def _checkpoint_to_dict(checkpoint: NCMECCheckpoint) -> dict[str, Any]:
    d: dict[str, Any] = {"get_entries_max_ts": checkpoint.get_entries_max_ts}
    if checkpoint.paging_info is not None:
        d["paging_url"] = checkpoint.paging_info.paging_url
        d["paging_end_ts"] = checkpoint.paging_info.paging_end_ts
        d["paging_url_ts"] = checkpoint.paging_info.paging_url_ts
    return d


def _checkpoint_from_dict(d: dict[str, Any] | None) -> NCMECCheckpoint | None:
    if not d or "get_entries_max_ts" not in d:
        return None
    paging = None
    if d.get("paging_url"):
        paging = _NCMECPagingInfo(str(d["paging_url"]), int(d["paging_end_ts"]), int(d["paging_url_ts"]))
        if not paging.is_valid:  # NCMEC page URLs expire: redo the window from its start
            paging = None
    return NCMECCheckpoint(int(d["get_entries_max_ts"]), paging)


class EntryIndex:
    """Which fingerprints each NCMEC entry ("member-id") brought into posbon's banks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS fingerprints (entry TEXT NOT NULL, signal_type TEXT NOT NULL, "
            "value TEXT NOT NULL, live INTEGER NOT NULL, PRIMARY KEY (entry, signal_type, value))"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS by_value ON fingerprints (signal_type, value)")

    def close(self) -> None:
        self.db.close()

    def replace(self, entry: str, values: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """Record the entry's fingerprints now (none: deleted); the ones it dropped that no other live
        entry holds, to withdraw from the bank."""
        with self.db:
            old = self.db.execute(
                "SELECT signal_type, value FROM fingerprints WHERE entry = ?", (entry,)
            ).fetchall()
            self.db.execute("UPDATE fingerprints SET live = 0 WHERE entry = ?", (entry,))
            self.db.executemany(
                "INSERT INTO fingerprints VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET live = 1",
                [(entry, t, v) for t, v in sorted(values)],
            )
            dropped = []
            for signal_type, value in old:
                if (signal_type, value) in values:
                    continue
                holder = self.db.execute(
                    "SELECT 1 FROM fingerprints WHERE signal_type = ? AND value = ? AND live = 1 LIMIT 1",
                    (signal_type, value),
                ).fetchone()
                if holder is None:
                    dropped.append((signal_type, value))
        return dropped


def _entry_updates(
    entry: hash_api.NCMECEntryUpdate, index: EntryIndex, skipped: Counter[str], where: str
) -> tuple[list[ExchangeUpdate], list[Problem]]:
    key = f"{entry.member_id}-{entry.id}"
    updates: list[ExchangeUpdate] = []
    problems: list[Problem] = []
    values: set[tuple[str, str]] = set()
    label = f"NCMEC {entry.classification}" if entry.classification else "NCMEC"
    for name, raw in [] if entry.deleted else entry.fingerprints.items():
        signal_type = FINGERPRINTS.get(name.lower())
        if signal_type is None or (signal_type == SignalType.PDQ and entry.entry_type.value != "image"):
            skipped[name.lower()] += 1
            continue
        try:
            value, _ = validate_signal(signal_type, raw)
        except InvalidEntry as exc:
            problems.append(Problem(where, None, f"entry {key} {name}: {exc}"))
            continue
        values.add((str(signal_type), value))
        feedback = entry.feedback.get(name.capitalize(), []) + entry.feedback.get(name.upper(), [])
        extra = {
            "ncmec_entry": key,
            "member_id": entry.member_id,
            "entry_type": entry.entry_type.value,
            "classification": entry.classification,
            "upvotes": sum(1 for f in feedback if f.feedback_type is hash_api.FeedbackType.upvote),
            "downvotes": sum(1 for f in feedback if f.feedback_type is hash_api.FeedbackType.downvote),
        }
        updates.append(ExchangeUpdate(signal_type, value, label, extra))
    for signal_type_name, value in index.replace(key, values):
        updates.append(ExchangeUpdate(SignalType(signal_type_name), value, deleted=True))
    return updates, problems


class NCMECExchange(Exchange):
    name = "ncmec"
    env_prefix = "NCMEC"

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[Batch]:
        user = self.config.get("user", secret=True, required=True) or ""
        password = self.config.get("password", secret=True, required=True) or ""
        base_url = self.config.get("base_url") or DEFAULT_ENVIRONMENT.value
        data_dir = Path(os.environ.get("POSBON_DATA_DIR") or DEFAULT_DATA_DIR)
        index_path = Path(self.config.get("entry_index") or data_dir / "ncmec-entries.sqlite")
        try:
            index = EntryIndex(index_path)
        except (OSError, sqlite3.Error) as exc:
            raise ExchangeError(f"ncmec: cannot open the entry index {index_path}: {exc}") from None
        only = self.config.get("only_esp_ids")
        try:
            esp_ids = {int(x) for x in only.split(",") if x.strip()} if only else set()
        except ValueError:
            raise ExchangeError(
                f"ncmec: only_esp_ids must be numbers separated by commas, got {only!r}"
            ) from None
        collab = NCMECCollabConfig(name="posbon", environment=DEFAULT_ENVIRONMENT, only_esp_ids=esp_ids)
        api = _Api(collab, user, password, base_url)
        where = "ncmec feed"
        with closing(index):
            for delta in api.fetch_iter([], _checkpoint_from_dict(checkpoint)):
                updates: list[ExchangeUpdate] = []
                problems: list[Problem] = []
                skipped: Counter[str] = Counter()
                for entry in delta.updates.values():
                    if entry is None or (esp_ids and entry.member_id not in esp_ids):
                        continue
                    more, bad = _entry_updates(entry, index, skipped, where)
                    updates.extend(more)
                    problems.extend(bad)
                if skipped:
                    counts = ", ".join(f"{n} {name}" for name, n in sorted(skipped.items()))
                    problems.append(Problem(where, None, f"fingerprints not banked: {counts}", note=True))
                yield Batch(updates, _checkpoint_to_dict(delta.checkpoint), problems)

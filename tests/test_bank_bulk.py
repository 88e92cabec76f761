"""Store.add_entries' bulk path (large inputs): same counts and rows as the ORM path, and a change log that
matchers can apply."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import posbon.store.db as store_db
from posbon.domain import Signal, SignalType
from posbon.match.banklist import NewEntry
from posbon.match.service import MatchService
from posbon.settings import Settings
from posbon.store import Store
from posbon.store.changelog_models import BankChangeRow
from posbon.store.models import BankEntryRow, BankRow, utcnow

N = 8_000  # entries of the path comparison (kept small: the ORM path banks only a few thousand a second)
# benign stand-in text (no real propaganda)
TEXT = "the harbour ferry leaves at nine and the bakery on the corner sells warm rye bread every morning"


@pytest.fixture
def env(tmp_path: Path) -> tuple[Store, Settings]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'posbon.db'}", pseudonym_key=b"k"
    )
    return Store.open(settings.database_url), settings


@pytest.fixture
def bulk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each call of the bulk path got (proves which path ran)."""
    calls: list[int] = []
    original = Store._add_entries_bulk

    def counting(self: Store, bank: str, bank_id: int, entries: Any, source: str) -> tuple[int, int]:
        added, present = original(self, bank, bank_id, entries, source)
        calls.append(added + present)
        return added, present

    monkeypatch.setattr(Store, "_add_entries_bulk", counting)
    return calls


def _pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _input(rng: random.Random, n: int) -> list[NewEntry]:
    """n entries, mostly PDQ, some MD5 and text, with labels and metadata on some."""
    out: list[NewEntry] = []
    for i in range(n):
        if i % 50 == 0:
            out.append(NewEntry(SignalType.MD5, f"{rng.getrandbits(128):032x}", f"md5-{i}", {"n": i}))
        elif i == 7:
            out.append(NewEntry(SignalType.TEXT, TEXT, "text", {}, "The harbour ferry…", origin="t:7"))
        else:
            label = f"label-{i}" if i % 3 == 0 else None
            out.append(
                NewEntry(SignalType.PDQ, _pdq(rng), label, {"k": [i, "é"]} if i % 7 == 0 else {}, None)
            )
    return [
        NewEntry(e.signal_type, e.value, e.label, e.metadata, e.original_text, f"in:{i}")
        for i, e in enumerate(out)
    ]


def _delete(store: Store, bank: str, values: list[str]) -> None:
    """Mark entries deleted, as an exchange withdrawal does."""
    with store.session() as s:
        bank_id = s.scalar(select(BankRow.id).where(BankRow.name == bank))
        s.execute(
            update(BankEntryRow)
            .where(BankEntryRow.bank_id == bank_id, BankEntryRow.value.in_(values))
            .values(deleted_at=utcnow())
        )


def _rows(store: Store, bank: str) -> list[tuple[Any, ...]]:
    with store.session() as s:
        rows = s.scalars(
            select(BankEntryRow).join(BankRow, BankRow.id == BankEntryRow.bank_id).where(BankRow.name == bank)
        ).all()
        assert all(r.created_at is not None for r in rows)
        return sorted(
            (
                r.signal_type,
                r.value,
                r.value_digest,
                r.label,
                r.original_text,
                r.extra,
                r.origin,
                r.enabled,
                r.deleted_at is None,
                r.source,
            )
            for r in rows
        )


def _changes(store: Store, after: int = 0) -> list[tuple[str | None, int | None, str]]:
    with store.session() as s:
        rows = s.execute(
            select(BankChangeRow.bank, BankChangeRow.entry_id, BankChangeRow.op)
            .where(BankChangeRow.id > after)
            .order_by(BankChangeRow.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


def _last_change(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(BankChangeRow.id).order_by(BankChangeRow.id.desc()).limit(1)) or 0)


def test_bulk_path_gives_the_same_counts_and_rows_as_the_orm_path(
    env: tuple[Store, Settings], bulk_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = env
    monkeypatch.setattr(store_db, "_BULK_STAGE_ROWS", 3_000)  # several staging rounds
    rng = random.Random(3)
    entries = _input(rng, N)
    others = [NewEntry(SignalType.PDQ, _pdq(rng)) for _ in range(50)]
    earlier = entries[100:400] + others  # in the bank before: 300 of the input and 50 others
    gone = [e.value for e in entries[200:260]] + [e.value for e in entries[5_000:5_040]]
    # the input again: duplicates within one staging round and across rounds (first occurrence wins)
    dupes = [NewEntry(e.signal_type, e.value, "dupe", {"dupe": True}, None, "dupe") for e in entries[::97]]
    data = entries[:1_500] + dupes + entries[1_500:]
    results = {}
    for bank, bulk in (("ORM", False), ("BULK", True)):
        store.create_bank(bank)
        monkeypatch.setattr(store_db, "_BULK_MIN", 1_000 if bulk else 10**9)
        store.add_entries(bank, earlier, source="earlier")
        store.add_entries(bank, entries[5_000:5_040], source="earlier")
        _delete(store, bank, gone)  # 60 deleted among the earlier ones, 40 deleted before this add
        results[bank] = store.add_entries(bank, data, source="import:list.csv")
    assert bulk_calls == [len(data)]  # only the BULK bank's big add went the bulk way
    # N distinct entries, 340 already in the bank, 100 of them deleted (restored: counted as added)
    assert results["BULK"] == results["ORM"] == (N - 340 + 100, len(data) - N + 340 - 100)
    assert _rows(store, "BULK") == _rows(store, "ORM")
    rows = _rows(store, "BULK")
    assert len(rows) == N + 50 and all(r[8] for r in rows)  # nothing left deleted
    assert sum(1 for r in rows if r[9] == "import:list.csv") == N - 340
    labels = {r[1]: (r[3], r[6]) for r in rows}
    # the first occurrence goes in: the original before position 1 500, the "dupe" copy after it
    assert labels[entries[97].value] == (entries[97].label, "in:97")
    assert labels[entries[97 * 20].value] == ("dupe", "dupe")
    assert store.add_entries("BULK", data) == (0, len(data))
    assert bulk_calls == [len(data), len(data)]


def test_bulk_change_log_lets_a_matcher_apply_the_add(
    env: tuple[Store, Settings], bulk_calls: list[int]
) -> None:
    store, settings = env
    store.create_bank("LIVE")
    rng = random.Random(5)
    entries = [NewEntry(SignalType.PDQ, _pdq(rng)) for _ in range(3_000)]
    store.add_entries("LIVE", entries[:1])
    _delete(store, "LIVE", [entries[0].value])
    service = MatchService(store, settings, poll_seconds=0.0)
    assert service.lookup([Signal(SignalType.PDQ, entries[0].value)]) == [[]]
    before = _last_change(store)
    assert store.add_entries("LIVE", entries + entries[:10]) == (3_000, 10)
    assert bulk_calls == [3_010]
    changes = _changes(store, before)
    ids = {e.entry_id for e in store.entries("LIVE")}
    # one "add" per added or restored entry, nothing else (the ORM events did not log it again)
    assert sorted(c[1] for c in changes if c[1] is not None) == sorted(ids)
    assert {(c[0], c[2]) for c in changes} == {("LIVE", "add")} and len(changes) == 3_000
    hits = service.lookup(
        [Signal(SignalType.PDQ, entries[0].value), Signal(SignalType.PDQ, entries[-1].value)]
    )
    assert [[m.bank for m in h] for h in hits] == [["LIVE"], ["LIVE"]]
    assert service.rebuilds == 1  # applied in place from the "add" rows
    assert service.snapshot().version == _last_change(store)


def test_bulk_add_above_the_log_limit_writes_one_settings_row(
    env: tuple[Store, Settings], bulk_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, settings = env
    monkeypatch.setattr(store_db, "_BULK_LOG_LIMIT", 500)
    store.create_bank("LIVE")
    service = MatchService(store, settings, poll_seconds=0.0)
    service.lookup([])
    before = _last_change(store)
    rng = random.Random(9)
    entries = [NewEntry(SignalType.PDQ, _pdq(rng)) for _ in range(2_000)]
    assert store.add_entries("LIVE", entries) == (2_000, 0)
    assert bulk_calls == [2_000]
    assert _changes(store, before) == [("LIVE", None, "settings")]
    assert [m.bank for m in service.lookup([Signal(SignalType.PDQ, entries[1_234].value)])[0]] == ["LIVE"]
    assert service.rebuilds == 2
    assert store.add_entries("LIVE", entries) == (0, 2_000)
    assert _last_change(store) == before + 1  # nothing changed, nothing logged


def test_failed_bulk_add_leaves_nothing_behind(env: tuple[Store, Settings], bulk_calls: list[int]) -> None:
    store, _ = env
    store.create_bank("LIVE")
    rng = random.Random(11)
    entries = [NewEntry(SignalType.PDQ, _pdq(rng)) for _ in range(4_000)]
    before = _last_change(store)

    def broken() -> Iterator[NewEntry]:
        yield from entries[:3_000]
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        store.add_entries("LIVE", broken())
    assert store.entries("LIVE") == [] and _last_change(store) == before
    assert store.add_entries("LIVE", iter(entries)) == (4_000, 0)  # the staging table is not in the way
    assert bulk_calls == [4_000]
    assert len(store.entries("LIVE")) == 4_000

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from posbon.domain import SignalType
from posbon.store import Store, StoreError


@dataclass(frozen=True)
class Entry:
    signal_type: SignalType
    value: str
    label: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    original_text: str | None = None
    origin: str = ""


def test_open_migrates_an_empty_database(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db' / 'p.db'}")
    tables = set(inspect(store.engine).get_table_names())
    assert {"banks", "bank_entries", "items", "scans", "scan_problems", "alembic_version"} <= tables
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from posbon.store.db import _migrations_dir

    config = Config()
    config.set_main_option("script_location", _migrations_dir())
    head = ScriptDirectory.from_config(config).get_current_head()
    with store.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == head


def test_bank_entries_are_stored_once(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    assert store.create_bank("known") is True
    assert store.create_bank("known") is False
    long_text = "слово " * 2000  # longer than any btree key
    entries = [
        Entry(SignalType.MD5, "a" * 32),
        Entry(SignalType.TEXT, long_text),
        Entry(SignalType.MD5, "a" * 32),
    ]
    assert store.add_entries("known", entries) == (2, 1)
    assert store.add_entries("known", entries) == (0, 3)
    assert [b.entries for b in store.list_banks()] == [{"md5": 1, "text": 1}]
    assert {e.signal_type for e in store.bank_entries()} == {SignalType.MD5, SignalType.TEXT}


def test_unknown_bank_is_a_clear_error(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    with pytest.raises(StoreError, match="no bank named 'nope'"):
        store.add_entries("nope", [])


def test_unusable_database_url_is_one_line_error_without_password() -> None:
    with pytest.raises(StoreError) as info:
        Store.open("postgresql+psycopg://user:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(info.value)


def _row(item_id: str, verdict: str = "clear") -> dict[str, Any]:
    return {
        "item_id": item_id,
        "source": "s",
        "external_id": item_id,
        "text": "t",
        "created_at": None,
        "author": None,
        "url": None,
        "media": [],
        "links": {},
        "language": "en",
        "language_confidence": 0.9,
        "verdict": verdict,
        "risk": 0.0,
        "evidence": [],
    }


def test_save_items_upserts_and_counts_new(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    scan = store.start_scan(["x"])
    assert store.save_items(scan, [_row("a"), _row("b")]) == 2
    assert store.save_items(scan, [_row("a", "review"), _row("c")]) == 1
    assert store.count_items() == 3
    assert {r.item_id: r.verdict for r in store.items()}["a"] == "review"


def test_failed_write_changes_nothing(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    scan = store.start_scan(["x"])
    store.save_items(scan, [_row("a")])
    broken = _row("b")
    del broken["verdict"]  # NOT NULL column missing -> the whole batch fails
    with pytest.raises(Exception):  # noqa: B017 - any database error
        store.save_items(scan, [_row("z"), broken])
    assert [r.item_id for r in store.items()] == ["a"]


def test_a_deleted_entry_id_is_never_handed_out_again(tmp_path: Path) -> None:
    # An entry id is HMA's bank_content_id: clients cache it. SQLite used to give the highest id out
    # again once its row was gone (a deleted bank); AUTOINCREMENT (migration 0010) keeps ids growing.
    import os

    from sqlalchemy import delete

    from posbon.store.models import BankEntryRow, BankRow

    store = Store.open(os.environ.get("POSBON_DATABASE_URL") or f"sqlite:///{tmp_path / 'p.db'}")
    store.create_bank("first")
    store.add_entries("first", [Entry(SignalType.MD5, "b" * 32)])
    (old,) = [e.entry_id for e in store.bank_entries()]
    with store.session() as s:  # what the HMA route that deletes a bank does
        s.execute(delete(BankEntryRow))
        s.execute(delete(BankRow).where(BankRow.name == "first"))
        s.commit()
    store.create_bank("second")
    store.add_entries("second", [Entry(SignalType.MD5, "c" * 32)])
    (new,) = [e.entry_id for e in store.bank_entries()]
    assert new > old

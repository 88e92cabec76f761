"""The audit log is hash-chained: tampering with the SQLite file behind posbon's back is caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from posbon.policy import load_profile
from posbon.review import decide, record_login, verify
from posbon.store import Store
from review_helpers import add_items, add_reviewers, cli_app, item_row

EU = load_profile("eu")


def filled(tmp_path: Path) -> Path:
    data = tmp_path / "posbon-data"
    store = Store.open(f"sqlite:///{data / 'posbon.db'}")
    add_reviewers(store, "alice")
    add_items(store, [item_row(n) for n in range(1, 4)])
    for n in range(1, 4):
        decide(store, f"item{n:08d}", "remove", reviewer="alice", reason=f"banked {n}", policy=EU)
    record_login(store, "alice", True)
    record_login(store, "mallory", False)
    checked, breaks = verify(store)
    assert checked == 6 and breaks == []
    store.close()
    return data / "posbon.db"


def run_verify() -> tuple[int, str]:
    result = CliRunner().invoke(cli_app(), ["audit", "verify"])
    return result.exit_code, result.stdout


def tamper(db: Path, sql: str) -> None:
    with sqlite3.connect(db) as con:
        con.execute(sql)


def test_intact_log_verifies(tmp_path: Path) -> None:
    filled(tmp_path)
    code, out = run_verify()
    assert code == 0 and "intact: 6 records" in out


def test_edited_detail_is_caught(tmp_path: Path) -> None:
    db = filled(tmp_path)
    tamper(db, "UPDATE audit_log SET details = json_set(details, '$.reason', 'nothing') WHERE id = 3")
    code, out = run_verify()
    assert code == 1
    assert out.strip().splitlines() == ["record 3: its content does not match its hash (edited)"]


def test_edited_actor_is_caught(tmp_path: Path) -> None:
    db = filled(tmp_path)
    tamper(db, "UPDATE audit_log SET actor = 'bob' WHERE id = 2")
    code, out = run_verify()
    assert code == 1 and "record 2:" in out and "edited" in out


def test_deleted_record_is_caught(tmp_path: Path) -> None:
    db = filled(tmp_path)
    tamper(db, "DELETE FROM audit_log WHERE id = 4")
    code, out = run_verify()
    assert code == 1
    assert out.strip().splitlines() == ["record 5: record(s) 4 before it are missing (deleted)"]


def test_deleted_newest_record_is_caught(tmp_path: Path) -> None:
    db = filled(tmp_path)
    tamper(db, "DELETE FROM audit_log WHERE id = 6")
    code, out = run_verify()
    assert code == 1 and "record 6: the newest record(s) 6-6 are missing" in out


def test_reordered_records_are_caught(tmp_path: Path) -> None:
    db = filled(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE audit_log SET id = 100 WHERE id = 2")
        con.execute("UPDATE audit_log SET id = 2 WHERE id = 3")
        con.execute("UPDATE audit_log SET id = 3 WHERE id = 100")
    code, out = run_verify()
    assert code == 1 and "record 2:" in out and "record 3:" in out


def test_recomputed_hash_still_breaks_the_chain(tmp_path: Path) -> None:
    """Someone who edits a record and fixes its own hash breaks the link to the next record."""
    from posbon.review.audit import record_hash

    db = filled(tmp_path)
    with sqlite3.connect(db) as con:
        rid, at, actor, action, subject, prev = con.execute(
            "SELECT id, at, actor, action, subject, prev_hash FROM audit_log WHERE id = 2"
        ).fetchone()
        from datetime import datetime

        forged = record_hash(prev, rid, datetime.fromisoformat(at), actor, action, subject, {"forged": True})
        con.execute("UPDATE audit_log SET details = ?, hash = ? WHERE id = 2", ('{"forged": true}', forged))
    code, out = run_verify()
    assert code == 1 and out.strip().splitlines() == [
        "record 3: its prev_hash is not the previous record's hash (re-ordered or replaced)"
    ]

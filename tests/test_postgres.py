"""The production store: PostgreSQL under concurrent writers (POSBON_TEST_PG=1 only; see docs/postgres.md).

Two scans of the same input at once must store every item exactly once, and two API writers deciding at
once must leave the audit chain intact. SQLite serialises writers with one file lock, so these only mean
something on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from pg_support import pg_create_database, pg_drop_database, pg_url
from posbon.review.audit import verify
from posbon.store import Store
from posbon.store.db import _migrations_dir
from posbon.store.models import ItemRow
from test_web_support import build, client

pytestmark = pytest.mark.pg


def test_migrations_run_on_an_empty_database() -> None:
    name = pg_create_database()  # no template: an empty database
    try:
        store = Store.open(pg_url(name))
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            tables = set(
                conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            )
        config_heads = _script_heads()
        assert version in config_heads and len(config_heads) == 1
        assert {"items", "banks", "bank_entries", "audit_log", "audit_head"} <= tables
        Store.open(pg_url(name)).close()  # opening again is a no-op upgrade
        store.close()
    finally:
        pg_drop_database(name)


def _script_heads() -> tuple[str, ...]:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _migrations_dir())
    return tuple(ScriptDirectory.from_config(config).get_heads())


def test_two_scans_of_the_same_input_at_once_store_each_item_once(tmp_path: Path) -> None:
    url = os.environ["POSBON_DATABASE_URL"]
    assert url.startswith("postgresql")
    n = 3000
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "".join(
            json.dumps({"id": str(i), "text": f"ordinary post {i} about the weather in the valley"}) + "\n"
            for i in range(n)
        ),
        encoding="utf-8",
    )
    Store.open(url).close()  # one schema upgrade before both start (both would do it otherwise)
    env = {**os.environ, "POSBON_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-c", "from posbon.cli import main; main()", "scan", str(posts), "-q"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()

    store = Store.open(url)
    with store.session() as s:
        count = s.scalar(select(func.count()).select_from(ItemRow))
        duplicates = s.execute(
            select(ItemRow.source, ItemRow.external_id, func.count())
            .group_by(ItemRow.source, ItemRow.external_id)
            .having(func.count() > 1)
        ).all()
        ids = set(s.scalars(select(ItemRow.external_id)).all())
    store.close()
    assert count == n
    assert duplicates == []
    assert ids == {str(i) for i in range(n)}


def test_two_api_writers_deciding_at_once_keep_the_audit_chain_intact(tmp_path: Path) -> None:
    assert os.environ["POSBON_DATABASE_URL"].startswith("postgresql")
    fx = build(tmp_path, extra_items=30)
    halves = [fx.items[0::2], fx.items[1::2]]
    key = {"Authorization": f"Bearer {fx.keys['reviewer']}"}
    start = threading.Barrier(2)
    statuses: list[list[int]] = [[], []]
    failures: list[BaseException] = []

    # built here, one after the other: each writer has its own app, engine and connections
    clients = [client(fx), client(fx)]

    def writer(index: int) -> None:
        try:
            c = clients[index]
            start.wait(timeout=30)
            for item_id in halves[index]:
                r = c.post(
                    f"/api/v1/items/{item_id}/decisions",
                    json={"action": "label", "reason": f"writer {index}"},
                    headers=key,
                )
                statuses[index].append(r.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not failures, failures
    assert statuses[0] == [201] * len(halves[0]) and statuses[1] == [201] * len(halves[1])

    checked, breaks = verify(fx.store)
    assert breaks == []
    assert checked >= len(fx.items)  # one record per decision at least, plus the set-up's own records
    with fx.store.session() as s:
        ids = list(s.scalars(text("SELECT id FROM audit_log ORDER BY id")).all())
    assert ids == list(range(1, len(ids) + 1))

"""The durable queue and `posbon worker`: same results as an in-process scan, redelivery after SIGKILL,
graceful drain on SIGTERM, retries, reconnects. Benign stand-in texts only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from posbon.cli_roles import register
from posbon.domain import Item
from posbon.roles import worker as worker_module
from posbon.roles.queue import JobQueue, item_from_payload, item_payload
from posbon.roles.worker import Worker
from posbon.settings import Settings
from posbon.store import Store
from posbon.store.queue_models import JobRow

BANKED = (
    "Lantern Signal Media announces: the closed reading circle meets again this Friday. "
    "Write to the organiser in private to receive the address and the rules of the circle."
)
POSTS: list[dict[str, object]] = [
    {"id": "1", "text": BANKED, "author": "user-1", "created_at": "2026-10-01T10:00:00+00:00"},
    {"id": "2", "text": "The market opens at nine; fresh bread and apricots today.", "author": "user-2"},
    {"id": "3", "text": "Join our closed group in private: t.me/+AbCdEfGhIjK", "author": "user-1"},
    {"id": "4", "text": "Football practice moved to Saturday because of the rain.", "author": "user-3"},
]
RUN_CLI = (
    "from posbon.cli import app, main\n"
    "from posbon.cli_roles import register\n"
    "if not any(getattr(c.callback, '__name__', '') == 'worker' for c in app.registered_commands):\n"
    "    register(app)\n"
    "main()\n"
)
runner = CliRunner()


def cli_app() -> typer.Typer:
    from posbon.cli import app

    if not any(getattr(c.callback, "__name__", "") == "worker" for c in app.registered_commands):
        register(app)  # until the main CLI registers the roles itself
    return app


def posbon(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app(), ["--data-dir", str(data_dir), *args])
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout + result.stderr


def write_posts(path: Path, posts: list[dict[str, object]] = POSTS) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    return path


def with_bank(tmp_path: Path, data_dir: Path) -> None:
    texts = tmp_path / "bank-texts"
    texts.mkdir(exist_ok=True)
    (texts / "statement.txt").write_text(BANKED, encoding="utf-8")
    assert posbon(data_dir, "bank", "create", "known")[0] == 0
    assert posbon(data_dir, "bank", "add", "known", str(texts))[0] == 0


_engines: dict[str, Engine] = {}


def query(data_dir: Path, sql: str) -> list[Any]:
    """Rows of `sql` on the data dir's store: its SQLite file, or in a PostgreSQL run (POSBON_TEST_PG=1)
    the test's database, which every process of the test uses."""
    url = os.environ.get("POSBON_DATABASE_URL") or f"sqlite:///{data_dir / 'posbon.db'}"
    engine = _engines.get(url) or _engines.setdefault(url, create_engine(url, poolclass=NullPool))
    with engine.connect() as connection:
        return list(connection.execute(text(sql)))


def stored(data_dir: Path) -> list[dict[str, Any]]:
    """Every stored item as the store holds it, minus what differs by run (scan ids, timestamps)."""
    rows = query(data_dir, "select * from items order by item_id")
    skip = {"first_scan_id", "last_scan_id", "first_seen_at", "assessed_at"}
    return [{k: v for k, v in dict(r._mapping).items() if k not in skip} for r in rows]


def jobs(data_dir: Path) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in query(data_dir, "select item_id, status, attempts from jobs order by id")]


def open_store(data_dir: Path) -> tuple[Store, Settings]:
    settings = Settings.load(data_dir)
    return Store.open(settings.database_url), settings


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except DBAPIError:
            pass  # the table is not there yet, or locked for a moment
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def start_worker(data_dir: Path, delay: float, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "POSBON_DATA_DIR": str(data_dir), "POSBON_WORKER_TEST_DELAY": str(delay)}
    cmd = [sys.executable, "-c", RUN_CLI, "worker", "--no-ocr", "-q", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_payload_round_trip_and_enqueue_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    posts = write_posts(tmp_path / "posts.jsonl")
    code, out = posbon(data, "enqueue", str(posts))
    assert code == 0, out
    assert "Queued 4 items" in out
    code, out = posbon(data, "enqueue", str(posts))
    assert code == 0 and "Queued 0 items (4 already" in out
    assert [status for _, status, _ in jobs(data)] == ["queued"] * 4
    store, _ = open_store(data)
    row = JobQueue(store).job(jobs(data)[0][0])
    assert row is not None
    item = item_from_payload(row.payload)
    assert item.external_id == "1" and item.text == BANKED and item.created_at is not None
    assert item.author and item.author != "user-1"  # pseudonymised by the reader, before queueing
    assert item_payload(item) == row.payload


def test_enqueue_then_worker_stores_what_an_in_process_scan_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSBON_PSEUDONYM_KEY", "same-key-for-both")
    posts = write_posts(tmp_path / "posts.jsonl")
    scanned, queued = tmp_path / "scanned", tmp_path / "queued"
    for data in (scanned, queued):
        with_bank(tmp_path, data)
    code, out = posbon(scanned, "scan", "--no-ocr", "-q", str(posts))
    assert code == 0, out
    assert posbon(queued, "enqueue", str(posts))[0] == 0
    assert stored(queued) == []  # enqueue assesses nothing itself
    code, out = posbon(queued, "worker", "--once", "--no-ocr")
    assert code == 0, out
    assert "4 items done" in out
    by_worker, by_scan = stored(queued), stored(scanned)
    assert len(by_worker) == 4
    assert by_worker == by_scan
    assert {r["verdict"] for r in by_worker} >= {"match", "clear"}
    assert all(status == "done" and attempts == 1 for _, status, attempts in jobs(queued))
    # flagged items reach the review queue as after a scan
    flagged = query(queued, "select count(*) from items where verdict != 'clear'")[0][0]
    assert query(queued, "select count(*) from review_queue")[0][0] == flagged > 0


def test_a_worker_killed_mid_item_is_redelivered_and_stored_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl")))[0] == 0
    proc = start_worker(data, 60.0, "--lease-seconds", "1", "--batch", "1")  # one job at a time
    try:
        wait_for(lambda: jobs(data)[0][1:] == ("leased", 1))
        time.sleep(1.2)  # heartbeats keep the lease alive while the worker lives
        assert jobs(data)[0][1] == "leased"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stored(data) == []  # killed before it stored anything
    store, settings = open_store(data)
    queue = JobQueue(store, lease_seconds=1)
    other = queue.claim("impatient")  # the dead worker's lease has not expired yet: job 1 is not offered
    assert other is not None and other.job_id == 2
    queue.release(other)
    assert jobs(data)[1][1:] == ("queued", 0)
    time.sleep(1.1)
    summary = Worker(store, settings, lease_seconds=1, ocr=False).run(once=True)
    assert summary.done == 4
    assert [(status, attempts) for _, status, attempts in jobs(data)] == [
        ("done", 2),
        ("done", 1),
        ("done", 1),
        ("done", 1),
    ]
    assert tuple(query(data, "select count(*), count(distinct item_id) from items")[0]) == (4, 4)


def test_a_result_stored_before_the_crash_is_stored_once(tmp_path: Path) -> None:
    """Crash between "store" and "mark done": the job comes back, the upsert keeps one row."""
    data = tmp_path / "data"
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl", POSTS[:1])))[0] == 0
    store, settings = open_store(data)
    queue = JobQueue(store, lease_seconds=0.3)
    job = queue.claim("about-to-die")
    assert job is not None
    from posbon.scan import assess_item, build_detectors

    row = assess_item(item_from_payload(job.payload), build_detectors(store, settings)).to_row()
    store.save_items(store.start_scan(["x"]), [row])  # stored, then the worker "dies" before complete()
    time.sleep(0.4)
    summary = Worker(store, settings, lease_seconds=0.3, ocr=False).run(once=True)
    assert summary.done == 1 and summary.items_new == 0
    assert queue.complete(job) is False  # the dead worker's late completion changes nothing
    assert jobs(data) == [(job.item_id, "done", 2)]
    assert store.count_items() == 1


def test_sigterm_finishes_the_current_job_and_claims_no_more(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl")))[0] == 0
    proc = start_worker(data, 1.0)
    try:
        wait_for(lambda: jobs(data)[0][1] == "leased")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    assert [(status, attempts) for _, status, attempts in jobs(data)] == [
        ("done", 1),
        ("queued", 0),
        ("queued", 0),
        ("queued", 0),
    ]
    assert len(stored(data)) == 1


def test_errors_are_retried_then_the_job_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl", POSTS[:2])))[0] == 0
    store, settings = open_store(data)
    real = worker_module.assess_item

    def flaky(item: Item, *args: Any, **kwargs: Any) -> Any:
        if item.external_id == "1":
            raise RuntimeError("detector exploded")
        return real(item, *args, **kwargs)

    monkeypatch.setattr(worker_module, "assess_item", flaky)
    summary = Worker(store, settings, max_attempts=3, ocr=False).run(once=True)
    assert (summary.done, summary.retried, summary.failed) == (1, 2, 1)
    assert [(status, attempts) for _, status, attempts in jobs(data)] == [("failed", 3), ("done", 1)]
    row = JobQueue(store).job(jobs(data)[0][0])
    assert row is not None and row.last_error == "RuntimeError: detector exploded"
    # queueing a failed item again gives it fresh attempts
    result = JobQueue(store).enqueue([item_from_payload(row.payload)])
    assert result.enqueued == 1 and jobs(data)[0][1:] == ("queued", 0)


def test_a_bad_payload_fails_its_job_with_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, settings = open_store(data)
    with store.session() as s:
        s.add(JobRow(item_id="bogus", payload={"source": "jsonl", "text": "no id"}, status="queued"))
        s.add(JobRow(item_id="bogus2", payload={**item_payload(Item("jsonl", "9", "x")), "media": [{}]}))
    seen: list[str] = []
    summary = Worker(store, settings, ocr=False, on_problem=lambda p: seen.append(str(p))).run(once=True)
    assert summary.failed == 2 and summary.done == 0
    assert seen[0] == "job 1: payload lacks field 'external_id'"
    assert seen[1].startswith("job 2: payload field 'media[0]' is not a media reference")
    assert [status for _, status, _ in jobs(data)] == ["failed", "failed"]


def test_the_worker_rides_out_a_database_outage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl", POSTS[:1])))[0] == 0
    store, settings = open_store(data)
    monkeypatch.setattr(worker_module, "BACKOFF_FIRST", 0.01)
    real_claim, real_save = JobQueue.claim_batch, Store.save_items
    failures = {"claim": 2, "save": 1}

    def down(what: str) -> OperationalError:
        failures[what] -= 1
        return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    def claim(self: JobQueue, owner: str, limit: int) -> Any:
        if failures["claim"]:
            raise down("claim")
        return real_claim(self, owner, limit)

    def save_items(self: Store, scan_id: int, rows: Any) -> int:
        if failures["save"]:
            raise down("save")
        return real_save(self, scan_id, rows)

    monkeypatch.setattr(JobQueue, "claim_batch", claim)
    monkeypatch.setattr(Store, "save_items", save_items)
    summary = Worker(store, settings, ocr=False).run(once=True)
    assert failures == {"claim": 0, "save": 0}
    assert summary.done == 1 and jobs(data)[0][1:] == ("done", 1)
    assert store.count_items() == 1


def test_concurrent_workers_claim_each_job_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    posts: list[dict[str, object]] = [
        {"id": str(n), "text": f"ordinary post {n} about the weather"} for n in range(40)
    ]
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl", posts)))[0] == 0
    code, out = posbon(data, "worker", "--once", "--no-ocr", "--concurrency", "4")
    assert code == 0, out
    assert "40 items done" in out
    assert {(status, attempts) for _, status, attempts in jobs(data)} == {("done", 1)}
    assert len(stored(data)) == 40


def test_a_worker_killed_mid_batch_has_the_whole_batch_redelivered(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl")))[0] == 0
    proc = start_worker(data, 60.0, "--lease-seconds", "1", "--batch", "3")
    try:
        wait_for(lambda: [status for _, status, _ in jobs(data)] == ["leased"] * 3 + ["queued"])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stored(data) == []
    time.sleep(1.1)  # the three leases expire
    store, settings = open_store(data)
    summary = Worker(store, settings, lease_seconds=1, ocr=False, batch=3).run(once=True)
    assert summary.done == 4 and summary.lost == 0
    assert [(status, attempts) for _, status, attempts in jobs(data)] == [
        ("done", 2),
        ("done", 2),
        ("done", 2),
        ("done", 1),
    ]
    assert tuple(query(data, "select count(*), count(distinct item_id) from items")[0]) == (4, 4)


def test_a_running_worker_follows_bank_changes(tmp_path: Path) -> None:
    """A text banked while the worker runs is matched in the next batch: no restart."""
    import threading

    from posbon.domain import SignalType
    from posbon.match.banklist import NewEntry

    data = tmp_path / "data"
    store, settings = open_store(data)
    store.create_bank("known")
    worker = Worker(store, settings, ocr=False, poll_seconds=0.05)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert posbon(data, "enqueue", str(write_posts(tmp_path / "a.jsonl", POSTS[:1])))[0] == 0
        wait_for(lambda: [s for _, s, _ in jobs(data)] == ["done"])
        assert stored(data)[0]["verdict"] != "match"
        store.add_entries("known", [NewEntry(SignalType.TEXT, BANKED)])  # as another process would
        time.sleep(0.6)  # the change log is read at most every 0.5 s
        again = dict(POSTS[0], id="1-repost")
        assert posbon(data, "enqueue", str(write_posts(tmp_path / "b.jsonl", [again])))[0] == 0
        wait_for(lambda: [s for _, s, _ in jobs(data)] == ["done", "done"])
    finally:
        worker.stop()
        thread.join(20)
    verdicts = {row["external_id"]: row["verdict"] for row in stored(data)}
    assert verdicts == {"1": verdicts["1"], "1-repost": "match"}
    assert verdicts["1"] != "match"


def test_nul_characters_are_dropped_and_a_refused_result_fails_only_its_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL text cannot hold NUL: one post with it crashed the worker on every redelivery, holding its
    # whole batch. The store drops NUL (both databases); a row the database still refuses fails its job
    # for good with the reason, and the rest of the batch is stored.
    data = tmp_path / "data"
    posts: list[dict[str, object]] = [
        {"id": "nul", "text": "Garden\u0000 notes: plant the\u0000 apricots", "author": "user\u0000-9"},
        *POSTS[1:3],
    ]
    assert posbon(data, "enqueue", str(write_posts(tmp_path / "posts.jsonl", posts)))[0] == 0
    store, settings = open_store(data)
    summary = Worker(store, settings, ocr=False).run(once=True)
    assert (summary.done, summary.failed) == (3, 0)
    texts = [r[0] for r in query(data, "select text from items order by item_id")]
    assert "Garden notes: plant the apricots" in texts and not any("\x00" in t for t in texts)

    assert posbon(data, "enqueue", str(write_posts(tmp_path / "more.jsonl", [POSTS[0], POSTS[3]])))[0] == 0
    real_save = Store.save_items

    def refuse(self: Store, scan_id: int, rows: Any) -> int:
        if any("rain" in (r.get("text") or "") for r in rows):
            raise DBAPIError("INSERT", {}, Exception("value too long for type character varying(32)"))
        return real_save(self, scan_id, rows)

    monkeypatch.setattr(Store, "save_items", refuse)
    seen: list[str] = []
    summary = Worker(store, settings, ocr=False, on_problem=lambda p: seen.append(str(p))).run(once=True)
    assert (summary.done, summary.failed) == (1, 1)
    statuses = {item_id: status for item_id, status, _ in jobs(data)}
    assert sorted(statuses.values()).count("failed") == 1
    assert [s for s in seen if "refused" in s] == [
        s
        for s in seen
        if s.endswith("the database refused the result: value too long for type character varying(32)")
    ]
    assert len([s for s in seen if "refused" in s]) == 1
    assert store.count_items() == 4

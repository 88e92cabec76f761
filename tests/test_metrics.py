"""/metrics (Prometheus text format, behind a role), /readyz (public readiness) and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from posbon.domain import SignalType
from posbon.logs import configure_logging
from posbon.match.banklist import NewEntry
from posbon.review.accounts import create_api_key
from posbon.settings import Settings
from posbon.store import Store
from posbon.web import create_app

PDQ = "f" * 64


@pytest.fixture
def web(tmp_path: Path) -> tuple[TestClient, Store, dict[str, str]]:
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    keys = {r: f"Bearer {create_api_key(store, f'{r}-key', r)}" for r in ("matcher", "viewer", "admin")}
    return TestClient(create_app(settings)), store, keys


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_metrics_need_a_matcher_key_or_admin(web: tuple[TestClient, Store, dict[str, str]]) -> None:
    client, _, keys = web
    assert client.get("/metrics", follow_redirects=False).status_code in (303, 401)
    assert client.get("/metrics", headers={"Authorization": keys["viewer"]}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": keys["matcher"]}).status_code == 200


def test_metrics_count_lookups_and_show_queues_and_index(
    web: tuple[TestClient, Store, dict[str, str]],
) -> None:
    client, store, keys = web
    auth = {"Authorization": keys["matcher"]}
    store.create_bank("METRICS_BANK")
    store.add_entries("METRICS_BANK", [NewEntry(SignalType.PDQ, PDQ)])
    before = _samples(client.get("/metrics", headers=auth).text)
    pdq_key = ("posbon_lookups_total", (("signal_type", "pdq"),))
    r = client.get("/api/hma/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=auth)
    assert list(r.json()) == ["METRICS_BANK"]
    response = client.get("/metrics", headers=auth)
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)
    assert after[pdq_key] == before.get(pdq_key, 0.0) + 1
    assert (
        after[("posbon_lookup_seconds_count", ())] == before.get(("posbon_lookup_seconds_count", ()), 0) + 1
    )
    assert after[("posbon_review_queue_depth", ())] == 0
    assert after[("posbon_job_queue_depth", ())] == 0
    assert after[("posbon_index_version", ())] >= 2  # the bank's creation and its entry
    assert after[("posbon_index_entries", (("signal_type", "pdq"),))] == 1
    assert 0 <= after[("posbon_index_age_seconds", ())] < 60


def test_readyz_is_public_and_says_when_the_database_is_down(
    web: tuple[TestClient, Store, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store, _ = web
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"

    @contextmanager
    def broken() -> Iterator[None]:
        raise OperationalError("SELECT 1", {}, Exception("unable to open database file"))
        yield

    monkeypatch.setattr(client.app.state.web.store, "session", broken)  # type: ignore[attr-defined]
    r = client.get("/readyz")
    assert r.status_code == 503
    # a public route: the driver's message (it can name host, port and role) is for the log only
    assert r.json() == {"status": "not ready", "reason": "database unreachable"}


def test_json_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setenv("POSBON_LOG_FORMAT", "json")
    handler = configure_logging(logging.INFO, stream)
    try:
        log = logging.getLogger("posbon.test")
        log.info("bank %s updated\nsecond line", "B1", extra={"entries": 3})
        try:
            raise ValueError("bad value")
        except ValueError:
            log.exception("failed")
        lines = stream.getvalue().splitlines()
        assert len(lines) == 2
        first, second = (json.loads(line) for line in lines)
        assert first["message"] == "bank B1 updated\nsecond line"
        assert first["level"] == "INFO" and first["logger"] == "posbon.test" and first["entries"] == 3
        assert first["time"].endswith("+00:00")
        assert second["level"] == "ERROR" and "ValueError: bad value" in second["exc_info"]
        monkeypatch.setenv("POSBON_LOG_FORMAT", "text")
        plain = io.StringIO()
        handler = configure_logging(logging.INFO, plain)
        log.info("hello")
        assert stream.getvalue().count("\n") == 2  # the JSON handler was replaced
        assert plain.getvalue().rstrip().endswith("posbon.test: hello")
    finally:
        logging.getLogger("posbon").removeHandler(handler)


def test_database_library_warnings_share_posbon_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    # A lost connection made psycopg print a bare line through Python's last-resort handler: no time and,
    # under POSBON_LOG_FORMAT=json, not JSON. Its warnings now go through posbon's handler; its echo of an
    # error it already raised ("error ignored terminating ...") is dropped, since posbon reports the outage.
    stream = io.StringIO()
    monkeypatch.setenv("POSBON_LOG_FORMAT", "json")
    handler = configure_logging(logging.WARNING, stream)
    try:
        psycopg_log = logging.getLogger("psycopg")
        psycopg_log.warning(
            "error ignored terminating %r: %s", "<psycopg.Pipeline [BAD]>", "the connection is lost"
        )
        psycopg_log.warning("server sent an unexpected notice")
        psycopg_log.info("connection details nobody asked for")
        logging.getLogger("sqlalchemy.pool").warning("pool is full")
        records = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [(r["logger"], r["message"]) for r in records] == [
            ("psycopg", "server sent an unexpected notice"),
            ("sqlalchemy.pool", "pool is full"),
        ]
    finally:
        for name in ("posbon", "psycopg", "sqlalchemy"):
            logging.getLogger(name).removeHandler(handler)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_logs_json_lines_from_every_process_with_posbon_log_format_json(
    tmp_path: Path, workers: int
) -> None:
    # uvicorn's start-up, access and error lines were plain text even with POSBON_LOG_FORMAT=json, and the
    # --workers processes never set posbon's own format up.
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "POSBON_DATA_DIR": str(tmp_path / "data"), "POSBON_LOG_FORMAT": "json"}
    posbon = str(Path(sys.executable).with_name("posbon"))
    cmd = [posbon, "serve", "--api-only", "--access-log", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "posbon serve did not come up"
            time.sleep(0.2)
        time.sleep(1.0 if workers > 1 else 0)  # every worker up (each logs its start)
        assert httpx.get(f"http://127.0.0.1:{port}/api/hma/status", timeout=10).status_code == 200
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    messages = [r["message"] for r in records]
    assert sum("Started server process" in m for m in messages) == workers, messages
    assert any(
        "GET /api/hma/status" in m and r["logger"] == "uvicorn.access"
        for r, m in zip(records, messages, strict=True)
    )
    assert all("color_message" not in r for r in records)

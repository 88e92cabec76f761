"""The match API's fast path (posbon.web.fastpath) answers exactly as the ordinary route does, and only
when it may: a recently verified key with a role that may look up, a fresh index, a plain valid query.
Also `posbon serve --api-only` (the app without pages) and `--workers` with a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from posbon.match.service import MatchService
from posbon.review.accounts import create_api_key, revoke_api_key
from posbon.settings import Settings
from posbon.store import Store
from posbon.web import create_app
from posbon.web.fastpath import FAST_LOOKUPS
from review_helpers import cli_app

H = "/api/hma"
PDQ = "f" * 16 + "0" * 16 + "a5" * 16
NEAR = "e" + "f" * 15 + "0" * 16 + "a5" * 16  # 1 bit away
OTHER = "0" * 16 + "f" * 16 + "5a" * 16


def fast_count() -> float:
    return FAST_LOOKUPS._value.get()


@pytest.fixture
def env(tmp_path: Path) -> tuple[TestClient, Store, dict[str, str]]:
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    keys = {role: create_api_key(store, f"{role}-key", role) for role in ("matcher", "curator", "viewer")}
    client = TestClient(create_app(settings))
    curator = {"Authorization": f"Bearer {keys['curator']}"}
    for bank, value in (("BANK_A", PDQ), ("BANK_B", NEAR)):
        assert client.post(f"{H}/c/banks", json={"name": bank}, headers=curator).status_code == 201
        r = client.post(f"{H}/c/bank/{bank}/signal", json={"pdq": value}, headers=curator)
        assert r.status_code == 200, r.text
    return client, store, keys


def service_of(client: TestClient) -> MatchService:
    service = client.app.state.match_service  # type: ignore[attr-defined]
    assert isinstance(service, MatchService)
    return service


def lookup(client: TestClient, key: str, **params: str) -> httpx.Response:
    return client.get(f"{H}/m/lookup", params=params, headers={"Authorization": f"Bearer {key}"})


def test_fast_answers_are_the_routes_answers(env: tuple[TestClient, Store, dict[str, str]]) -> None:
    client, _store, keys = env
    queries = [
        {"signal_type": "pdq", "signal": PDQ},
        {"signal_type": "pdq", "signal": PDQ, "banks": "BANK_B"},
        {"signal_type": "pdq", "signal": PDQ, "banks": " BANK_A , nope"},
        {"signal_type": "pdq", "signal": OTHER},
        {"signal_type": "PDQ", "signal": PDQ.upper(), "seed": "1", "content_type": "photo"},
    ]
    assert lookup(client, keys["matcher"], signal_type="pdq", signal=PDQ).status_code == 200  # builds it
    for params in queries:
        service_of(client)._next_poll = 0.0  # a poll of the change log is due
        before = fast_count()
        slow = lookup(client, keys["matcher"], **params)  # a poll is due: the ordinary route answers
        assert fast_count() == before
        fast = lookup(client, keys["matcher"], **params)  # the index is fresh now: the fast path answers
        assert fast_count() == before + 1, params
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
        assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
        for header in ("content-security-policy", "x-content-type-options", "cache-control"):
            assert fast.headers[header] == slow.headers[header]
    both = lookup(client, keys["matcher"], signal_type="pdq", signal=PDQ).json()
    assert set(both) == {"BANK_A", "BANK_B"}
    assert both["BANK_B"][0]["distance"] == "1"


def test_the_fast_path_declines_what_the_route_must_decide(
    env: tuple[TestClient, Store, dict[str, str]],
) -> None:
    client, store, keys = env
    assert lookup(client, keys["matcher"], signal_type="pdq", signal=PDQ).status_code == 200
    declined = [
        ({"signal_type": "pdq", "signal": "xyz"}, 400),
        ({"signal_type": "tmk", "signal": PDQ}, 400),
        ({"signal_type": "pdq"}, 400),
        ({"url": "http://169.254.169.254/"}, 400),
        ({"signal_type": "pdq", "signal": PDQ, "bypass_coinflip": "maybe"}, 422),
        ({"signal_type": "pdq", "signal": PDQ, "unknown": "1"}, 200),
    ]
    for params, status in declined:
        before = fast_count()
        r = lookup(client, keys["matcher"], **params)
        assert r.status_code == status, (params, r.text)
        assert fast_count() == before, params
    # a repeated parameter is the route's to interpret
    before = fast_count()
    r = client.get(
        f"{H}/m/lookup?signal_type=pdq&signal={OTHER}&signal={PDQ}",
        headers={"Authorization": f"Bearer {keys['matcher']}"},
    )
    assert r.status_code == 200 and fast_count() == before

    # no key, a made-up key: 401 from the ordinary stack
    assert client.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ}).status_code == 401
    assert lookup(client, "not-a-key", signal_type="pdq", signal=PDQ).status_code == 401
    # a revoked key stops at once (the revocation clears this process's cache)
    revoke_api_key(store, "matcher-key")
    before = fast_count()
    assert lookup(client, keys["matcher"], signal_type="pdq", signal=PDQ).status_code == 401
    assert fast_count() == before


def test_a_bank_change_is_seen_by_the_next_lookup(env: tuple[TestClient, Store, dict[str, str]]) -> None:
    client, _store, keys = env
    assert lookup(client, keys["viewer"], signal_type="pdq", signal=OTHER).json() == {}
    assert lookup(client, keys["viewer"], signal_type="pdq", signal=OTHER).json() == {}  # fast, fresh
    r = client.post(
        f"{H}/c/bank/BANK_A/signal",
        json={"pdq": OTHER},
        headers={"Authorization": f"Bearer {keys['curator']}"},
    )
    assert r.status_code == 200
    found = lookup(client, keys["viewer"], signal_type="pdq", signal=OTHER).json()
    assert found == {"BANK_A": [{"bank_content_id": int(r.json()["id"]), "distance": "0"}]}


def test_api_only_app_has_no_pages_and_answers_json(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    key = create_api_key(store, "m", "matcher")
    client = TestClient(create_app(settings, ui=False), follow_redirects=False)
    assert client.get("/login").status_code == 404
    assert client.get("/queue", headers={"Authorization": f"Bearer {key}"}).status_code == 404
    assert client.get("/healthz").json() == {"status": "ok"}
    denied = client.get("/metrics")
    assert denied.status_code == 401 and denied.headers["content-type"] == "application/json"
    r = client.get(
        f"{H}/m/lookup",
        params={"signal_type": "pdq", "signal": PDQ},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200 and r.json() == {}
    assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_workers_need_api_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBON_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli_app(), ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers above 1 needs --api-only" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_worker_processes_answer_lookups(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.load(data)
    store = Store.open(settings.database_url)
    store.create_bank("BANK_A")
    from posbon.domain import SignalType
    from posbon.match.banklist import NewEntry

    store.add_entries("BANK_A", [NewEntry(SignalType.PDQ, PDQ)])
    key = create_api_key(store, "m", "matcher")
    store.close()
    port = free_port()
    posbon = str(Path(sys.executable).with_name("posbon"))
    env = {**os.environ, "POSBON_DATA_DIR": str(data)}  # and POSBON_DATABASE_URL in a PostgreSQL run
    server = subprocess.Popen(
        [posbon, "serve", "--api-only", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            while True:
                try:
                    if client.get(f"{H}/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "posbon serve --workers 2 did not come up"
                time.sleep(0.2)
            for _ in range(40):
                r = client.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ})
                assert r.status_code == 200 and list(r.json()) == ["BANK_A"], r.text
            assert client.get("/login").status_code == 404
            # /metrics adds up both processes: every scrape, whichever process answers, sees all 40
            for _ in range(6):
                with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as scraper:
                    text = scraper.get("/metrics").text  # a new connection: either process may answer
                totals = {
                    s.name: s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                    if s.name in ("posbon_lookups_total", "posbon_lookup_seconds_count")
                }
                assert totals == {"posbon_lookups_total": 40.0, "posbon_lookup_seconds_count": 40.0}, text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    # two worker processes, each with its own SO_REUSEPORT socket (posbon.web.serving)
    assert output.count("Started server process") >= 2, output
    assert server.returncode == 0, output  # SIGTERM: the workers drained and the parent exited cleanly


@pytest.mark.parametrize("reuse_port", [False, True])
def test_a_taken_port_is_one_line_not_a_restart_loop(tmp_path: Path, reuse_port: bool) -> None:
    # reuse_port: the port is held by another server's SO_REUSEPORT workers (another posbon on another
    # store), which the kernel would otherwise let us join, answering half the requests from each store
    taken = socket.socket()
    if reuse_port:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    env = {**os.environ, "POSBON_DATA_DIR": str(tmp_path / "data")}
    posbon = str(Path(sys.executable).with_name("posbon"))
    try:
        done = subprocess.run(
            [posbon, "serve", "--api-only", "--workers", "2", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def _flip(value: str, bits: int, start: int = 0) -> str:
    """`value` with bits start, start + 3, ... (`bits` of them) flipped."""
    number = int(value, 16)
    for bit in range(bits):
        number ^= 1 << (start + bit * 3)
    return f"{number:064x}"


def test_lookups_search_as_far_as_the_widest_match_threshold_and_no_further(tmp_path: Path) -> None:
    """The lookup path searches at the banks' match thresholds (not the review reach of 40): a bank's own
    wider threshold and an allow list's still count."""
    from posbon.domain import SignalType
    from posbon.match.banklist import NewEntry
    from posbon.match.service import parse_signal

    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    store.create_bank("WIDE", pdq_threshold=36)
    store.create_bank("PLAIN")
    store.create_bank("SAFE", kind="allow", pdq_threshold=36)
    blocked = _flip(OTHER, 40, start=1)
    store.add_entries("WIDE", [NewEntry(SignalType.PDQ, PDQ)])
    store.add_entries("PLAIN", [NewEntry(SignalType.PDQ, OTHER), NewEntry(SignalType.PDQ, blocked)])
    store.add_entries("SAFE", [NewEntry(SignalType.PDQ, _flip(blocked, 34, start=2))])  # 34 bits away
    service = MatchService(store, settings)

    def banks_of(value: str) -> list[str]:
        return [m.bank for m in service.lookup([parse_signal("pdq", value)])[0]]

    assert banks_of(_flip(PDQ, 34)) == ["WIDE"]  # within WIDE's own 36
    assert banks_of(_flip(PDQ, 38)) == []  # beyond it, though within the review reach of 40
    assert banks_of(_flip(OTHER, 29)) == ["PLAIN"]
    assert banks_of(_flip(OTHER, 33)) == []  # PLAIN matches at the global 31
    # the query is the second PLAIN entry (distance 0), but an allow-list entry 34 bits away overrides it
    assert banks_of(blocked) == []

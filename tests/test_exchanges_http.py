"""Exchanges against a local HTTP server that answers in each API's documented shapes (field names,
pagination and checkpoints as threatexchange's clients read them), with benign made-up values."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from posbon.cli import app
from posbon.exchanges import ExchangeError, fetch_into_bank, make_exchange
from posbon.store import Store

runner = CliRunner()
RNG = random.Random(3)
TAT_PASSWORD = "tat-pass-Zq81"
TE_TOKEN = "123456789|abcdefghijklmnopqrstuvwxyz0123"
NCII_KEYS = "fetchkey-Q7,subkey-W9"


def pdq() -> str:
    return f"{RNG.getrandbits(256):064x}"


def md5() -> str:
    return f"{RNG.getrandbits(128):032x}"


Handler = Callable[[str, dict[str, list[str]], dict[str, list[str]]], tuple[int, Any]]


@dataclass
class FakeApi:
    """Routes (method, path) to a function of (base url, query, form) -> (status, JSON body)."""

    base: str = ""
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    fail_with: int | None = None


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()

    class Handle(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode()) if length else {}
            fake.requests.append((method, parts.path, {**query, "_headers": [str(dict(self.headers))]}))
            route = fake.routes.get((method, parts.path))
            status, body = (404, {"error": "no route"}) if route is None else route(fake.base, query, form)
            if fake.fail_with is not None and method == "GET":
                status, body = fake.fail_with, {"error": "boom"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    s.create_bank("feed")
    return s


def fetch(store: Store, exchange: str, config: Path | None = None) -> Any:
    return fetch_into_bank(store, "feed", make_exchange(exchange, config))


def live(store: Store) -> dict[str, Any]:
    return {e.value: e for e in store.entries("feed") if e.deleted_at is None and e.enabled}


# ---- Tech Against Terrorism -------------------------------------------------------------------------


def tat_server(api: FakeApi, records: list[dict[str, Any]], page: int = 2) -> None:
    def token(_base: str, _q: dict[str, list[str]], form: dict[str, list[str]]) -> tuple[int, Any]:
        if form.get("password") != [TAT_PASSWORD]:
            return 401, {"error": "bad credentials"}
        return 200, {"token": "jwt-for-test"}

    def hash_list(base: str, query: dict[str, list[str]], _form: dict[str, list[str]]) -> tuple[int, Any]:
        after = query.get("after", [""])[0]
        offset = int(query.get("offset", ["0"])[0])
        key = (float(after.split(",")[0]), int(after.split(",")[1])) if after else (0.0, 0)
        newer = sorted(
            (r for r in records if (r["updated_on"], r["id"]) > key), key=lambda r: (r["updated_on"], r["id"])
        )
        chunk = newer[offset : offset + page]
        more = offset + page < len(newer)
        last = chunk[-1] if chunk else None
        return 200, {
            "count": len(newer),
            "next": f"{base}/api/hash-list/v2/all?limit={page}&offset={offset + page}" if more else None,
            "previous": None,
            "checkpoint": f"{last['updated_on']},{last['id']}" if last else after,
            "results": chunk,
        }

    api.routes[("POST", "/token-auth/tcap/")] = token
    api.routes[("GET", "/api/hash-list/v2/all")] = hash_list


def tat_record(n: int, algorithm: str, digest: str, ideology: str, deleted: bool = False) -> dict[str, Any]:
    return {
        "hash_digest": digest,
        "algorithm": algorithm,
        "ideology": ideology,
        "file_type": "mp4" if algorithm == "MD5" else "jpg",
        "deleted": deleted,
        "updated_on": 1704900000.0 + n,
        "created_on": "2026-01-01 10:00:00,000",
        "id": n,
    }


def test_tat_first_incremental_deletion_labels(
    api: FakeApi, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("POSBON_TAT_USERNAME", "analyst")
    monkeypatch.setenv("POSBON_TAT_PASSWORD", TAT_PASSWORD)
    monkeypatch.setenv("POSBON_TAT_BASE_URL", api.base)
    a, b, c = pdq(), pdq(), md5()
    records = [
        tat_record(1, "PDQ", a, "islamist"),
        tat_record(2, "PDQ", b, "far-right"),
        tat_record(3, "MD5", c, "islamist"),
    ]
    tat_server(api, records)
    first = fetch(store, "tat")
    assert (first.result.added, first.pages) == (3, 2)
    entries = live(store)
    assert entries[a].extra["ideology"] == "islamist" and entries[b].extra["ideology"] == "far-right"
    assert entries[c].signal_type == "md5" and entries[a].source == "exchange:tat"
    assert entries[a].label == "TAT islamist jpg"
    assert store.exchange_checkpoint("feed", "tat") == {"checkpoint": "1704900003.0,3"}
    # second fetch: one new hash, one deleted upstream; only what is newer than the checkpoint is asked for
    d = pdq()
    records.append(tat_record(4, "PDQ", d, "islamist"))
    records[0] = tat_record(5, "PDQ", a, "islamist", deleted=True)
    api.requests.clear()
    second = fetch(store, "tat")
    assert (second.result.added, second.result.deleted, second.fetched) == (1, 1, 2)
    asked = [q["after"] for m, p, q in api.requests if p.endswith("/all")]
    assert asked == [["1704900003.0,3"]]
    assert set(live(store)) == {b, c, d}
    assert TAT_PASSWORD not in caplog.text


def test_tat_missing_credentials_and_server_error(
    api: FakeApi, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("POSBON_TAT_USERNAME", raising=False)
    monkeypatch.delenv("POSBON_TAT_PASSWORD", raising=False)
    with pytest.raises(ExchangeError) as missing:
        fetch(store, "tat")
    assert "POSBON_TAT_USERNAME" in str(missing.value) and "\n" not in str(missing.value)
    monkeypatch.setenv("POSBON_TAT_USERNAME", "analyst")
    monkeypatch.setenv("POSBON_TAT_PASSWORD", TAT_PASSWORD)
    monkeypatch.setenv("POSBON_TAT_BASE_URL", api.base)
    tat_server(api, [tat_record(1, "PDQ", pdq(), "islamist")])
    fetch(store, "tat")
    before = (store.exchange_checkpoint("feed", "tat"), len(store.entries("feed")))
    api.fail_with = 500
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExchangeError) as failed:
        fetch(store, "tat")
    message = str(failed.value)
    assert "nothing stored" in message and "500" in message and "\n" not in message
    assert TAT_PASSWORD not in message and TAT_PASSWORD not in caplog.text
    assert (store.exchange_checkpoint("feed", "tat"), len(store.entries("feed"))) == before


# ---- ThreatExchange ---------------------------------------------------------------------------------


def te_update(n: int, kind: str, indicator: str, tags: list[str], delete: bool = False) -> dict[str, Any]:
    update: dict[str, Any] = {
        "id": str(1000 + n),
        "indicator": indicator,
        "type": kind,
        "last_updated": 1700000000 + n,
        "should_delete": delete,
    }
    if not delete:
        update["descriptors"] = {
            "data": [
                {
                    "id": str(2000 + n),
                    "owner": {"id": "555000111"},
                    "status": "MALICIOUS",
                    "tags": tags,
                    "reactions": [],
                }
            ]
        }
    return update


def te_server(api: FakeApi, updates: list[dict[str, Any]], group: int = 77, page: int = 2) -> None:
    def threat_updates(base: str, query: dict[str, list[str]], _f: dict[str, list[str]]) -> tuple[int, Any]:
        if query.get("access_token") != [TE_TOKEN]:
            return 400, {"error": {"message": "Invalid OAuth access token"}}
        start = int(query.get("start_time", ["0"])[0] or 0)
        offset = int(query.get("offset", ["0"])[0])
        newer = [u for u in updates if u["last_updated"] >= start]
        chunk = newer[offset : offset + page]
        body: dict[str, Any] = {"data": chunk}
        if offset + page < len(newer):
            next_query = f"access_token={TE_TOKEN}&start_time={start}&offset={offset + page}"
            body["paging"] = {"next": f"{base}/{group}/threat_updates/?{next_query}"}
        return 200, body

    api.routes[("GET", f"/{group}/threat_updates/")] = threat_updates


def test_threatexchange_fetch_incremental_delete_and_secrets(
    api: FakeApi,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = tmp_path / "exchanges.toml"
    config.write_text(f'[threatexchange]\napp_token = "{TE_TOKEN}"\nprivacy_group = 77\n', encoding="utf-8")
    monkeypatch.setenv("POSBON_TE_BASE_URL", api.base)
    a, b, url = pdq(), md5(), "https://example.org/benign-standin"
    updates = [
        te_update(1, "HASH_PDQ", a, ["poster", "outlet-x"]),
        te_update(2, "HASH_VIDEO_MD5", b, ["video"]),
        te_update(3, "URI", url, ["link"]),
        te_update(4, "DEBUG_STRING", "hello", []),
    ]
    te_server(api, updates)
    first = fetch(store, "threatexchange", config)
    assert first.result.added == 3 and first.pages == 2
    assert any(p.note and "DEBUG_STRING" in p.message for p in first.problems)
    entries = live(store)
    assert entries[a].extra["tags"] == ["outlet-x", "poster"] and entries[a].label == "outlet-x, poster"
    assert entries[url].signal_type == "url" and entries[b].extra["owners"] == [555000111]
    assert store.exchange_checkpoint("feed", "threatexchange") == {"update_time": 1700000004}
    updates.append(te_update(5, "HASH_PDQ", a, [], delete=True))
    c = pdq()
    updates.append(te_update(6, "HASH_PDQ", c, ["poster"]))
    second = fetch(store, "threatexchange", config)
    assert (second.result.added, second.result.deleted) == (1, 1)
    assert set(live(store)) == {b, url, c}
    third = fetch(store, "threatexchange", config)  # nothing new: the last update is re-read, nothing changes
    assert (third.result.added, third.result.deleted, third.result.updated) == (0, 0, 0)
    api.fail_with = 500
    with pytest.raises(ExchangeError) as failed:
        fetch(store, "threatexchange", config)
    assert TE_TOKEN not in str(failed.value) and "500" in str(failed.value)
    assert TE_TOKEN not in caplog.text and TE_TOKEN.split("|")[1] not in caplog.text


def test_threatexchange_bad_token_is_not_echoed(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBON_TE_APP_TOKEN", "not-a-token-secretvalue")
    monkeypatch.setenv("POSBON_TE_PRIVACY_GROUP", "77")
    with pytest.raises(ExchangeError) as info:
        fetch(store, "threatexchange")
    assert "secretvalue" not in str(info.value) and "POSBON_TE_APP_TOKEN" in str(info.value)


# ---- StopNCII ---------------------------------------------------------------------------------------


def ncii_record(ts: int, value: str, status: str = "Active", tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "lastModtimestamp": ts,
        "signalType": "ImagePDQ",
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": tags or [], "source": "platform-a"}],
    }


def test_stopncii_fetch_incremental_withdrawal(
    api: FakeApi, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSBON_STOPNCII_KEYS", NCII_KEYS)
    monkeypatch.setenv("POSBON_STOPNCII_BASE_URL", api.base + "/v1")
    records: list[dict[str, Any]] = []

    def fetch_hashes(_b: str, query: dict[str, list[str]], _f: dict[str, list[str]]) -> tuple[int, Any]:
        start = int(query["startTimestamp"][0])
        token = int(query.get("nextPageToken", ["0"])[0])
        newer = [r for r in records if r["lastModtimestamp"] >= start]
        chunk = newer[token : token + 2]
        more = token + 2 < len(newer)
        return 200, {
            "count": len(chunk),
            "nextPageToken": str(token + 2) if more else None,
            "nextSetTimestamp": max((r["lastModtimestamp"] for r in newer), default=start) + 1,
            "hasMoreRecords": more,
            "hashRecords": chunk,
        }

    api.routes[("GET", "/v1/FetchHashes")] = fetch_hashes
    a, b, c = pdq(), pdq(), pdq()
    records += [ncii_record(100, a, tags=["tag-x"]), ncii_record(101, b), ncii_record(102, c)]
    first = fetch(store, "stopncii")
    assert (first.result.added, first.pages) == (3, 2)
    assert live(store)[a].extra["tags"] == ["tag-x"] and live(store)[a].label == "tag-x"
    assert store.exchange_checkpoint("feed", "stopncii") == {"update_time": 103}
    headers = api.requests[0][2]["_headers"][0]
    assert "fetchkey-Q7" in headers and "subkey-W9" in headers  # keys travel in headers
    records[1] = ncii_record(110, b, status="Withdrawn")
    second = fetch(store, "stopncii")
    assert (second.result.added, second.result.deleted, second.fetched) == (0, 1, 1)
    assert set(live(store)) == {a, c}
    monkeypatch.setenv("POSBON_STOPNCII_KEYS", "")
    with pytest.raises(ExchangeError, match="POSBON_STOPNCII_FETCH_KEY"):
        fetch(store, "stopncii")


# ---- local file, through the CLI --------------------------------------------------------------------


def test_file_exchange_through_cli(tmp_path: Path) -> None:
    assert runner.invoke(app, ["bank", "create", "feed"]).exit_code == 0
    a, b = pdq(), md5()
    hashes = tmp_path / "signals.txt"
    hashes.write_text(f"pdq {a}\nvideo_md5 {b}\npdq not-a-hash\n", encoding="utf-8")
    config = tmp_path / "exchanges.yaml"
    config.write_text(f"file:\n  path: {hashes}\n  label: shared list\n", encoding="utf-8")
    result = runner.invoke(app, ["bank", "fetch", "feed", "--exchange", "file", "--config", str(config)])
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "2 added" in result.stdout and "pdq hash must be 64 hex characters" in result.stderr
    hashes.write_text(f"pdq {a}\n", encoding="utf-8")
    result = runner.invoke(app, ["bank", "fetch", "feed", "--exchange", "file", "--config", str(config)])
    assert result.exit_code == 0 and "0 added" in result.stdout and "1 deleted" in result.stdout
    result = runner.invoke(app, ["bank", "fetch", "feed", "--exchange", "nope"])
    assert result.exit_code == 2 and "unknown exchange 'nope'" in result.stderr

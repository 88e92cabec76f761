"""NCMEC exchange against a local HTTP server answering /v2/entries in the XML shape threatexchange's NCMEC
client parses (images/videos with maxTimestamp, deleted* tombstones, paging/next), with made-up values."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from threatexchange.exchanges.impl import ncmec_api

from posbon.domain import SignalType
from posbon.exchanges import ExchangeError, fetch_into_bank, make_exchange
from posbon.store import Store

USER, PASSWORD = "esp-user", "ncmec-pass-K42x"
NOW = int(time.time())
PAGE = 2
_FMT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Record:
    id: str
    member: int
    ts: int
    kind: str = "image"
    fingerprints: dict[str, str] = field(default_factory=dict)
    classification: str | None = "A1"
    deleted: bool = False

    def xml(self) -> str:
        tag = ("deleted" + self.kind.capitalize()) if self.deleted else self.kind
        stamp = datetime.fromtimestamp(self.ts, UTC).strftime(_FMT)
        parts = [
            f'<member id="{self.member}">Member {self.member}</member>',
            f"<timestamp>{stamp}</timestamp>",
        ]
        parts.append(f"<id>{self.id}</id>")
        if not self.deleted:
            if self.classification:
                parts.append(f"<classification>{self.classification}</classification>")
            prints = "".join(f"<{k}>{v}</{k}>" for k, v in self.fingerprints.items())
            parts.append(f"<fingerprints>{prints}</fingerprints>")
        return f"<{tag}>{''.join(parts)}</{tag}>"


@dataclass
class FakeNcmec:
    base: str = ""
    records: list[Record] = field(default_factory=list)
    fail_with: int | None = None
    requests: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def answer(self, query: dict[str, list[str]]) -> str:
        def seconds(name: str) -> int:
            return int(datetime.strptime(query[name][0], _FMT).replace(tzinfo=UTC).timestamp())

        low, high = seconds("from"), seconds("to")
        start = int(query.get("start", ["0"])[0])
        found = sorted((r for r in self.records if low <= r.ts <= high), key=lambda r: r.id)
        page = found[start : start + PAGE]
        sections = []
        for kind in ("image", "video"):
            rows = [r for r in page if r.kind == kind]
            if rows:
                top = datetime.fromtimestamp(max(r.ts for r in rows), UTC).strftime(_FMT)
                body = "".join(r.xml() for r in rows)
                sections.append(f'<{kind}s count="{len(rows)}" maxTimestamp="{top}">{body}</{kind}s>')
        paging = ""
        if start + PAGE < len(found):
            params = {"from": query["from"][0], "to": query["to"][0], "start": start + PAGE}
            more = urlencode({**params, "size": PAGE, "max": len(found)})
            paging = f"<paging><next>{escape('/v2/entries?' + more)}</next></paging>"
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
            f"{''.join(sections)}{paging}</queryResult>"
        )


@pytest.fixture
def ncmec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeNcmec]:
    fake = FakeNcmec()

    class Handle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            fake.requests.append(self.path)
            fake.auth.append(self.headers.get("Authorization") or "")
            if parts.path != "/v2/entries":
                status, body = 404, "<error/>"
            elif fake.fail_with is not None:
                status, body = fake.fail_with, "<error>boom</error>"
            else:
                status, body = 200, fake.answer(parse_qs(parts.query))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("POSBON_NCMEC_USER", USER)
    monkeypatch.setenv("POSBON_NCMEC_PASSWORD", PASSWORD)
    monkeypatch.setenv("POSBON_NCMEC_BASE_URL", fake.base)
    monkeypatch.setenv("POSBON_NCMEC_ENTRY_INDEX", str(tmp_path / "entries.sqlite"))
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The 'now' threatexchange's NCMEC fetch loop sees (only that module's clock is replaced)."""
    now = [NOW - 3 * 86400]
    monkeypatch.setattr(ncmec_api, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    s.create_bank("feed")
    return s


def fetch(store: Store) -> Any:
    return fetch_into_bank(store, "feed", make_exchange("ncmec"))


def live(store: Store) -> dict[str, Any]:
    return {e.value: e for e in store.entries("feed") if e.deleted_at is None and e.enabled}


def h(char: str, n: int) -> str:
    return char * n


def test_first_fetch_pages_and_keeps_labels(ncmec: FakeNcmec, store: Store, clock: list[int]) -> None:
    t0 = clock[0] - 86400
    ncmec.records = [
        Record("img1", 42, t0, fingerprints={"md5": h("a", 32), "sha1": h("b", 40), "pdq": h("c", 64)}),
        Record("img2", 42, t0, fingerprints={"md5": h("d", 32)}, classification="B1"),
        Record("vid1", 43, t0, kind="video", fingerprints={"md5": h("e", 32)}, classification=None),
    ]
    summary = fetch(store)
    entries = live(store)
    assert set(entries) == {h("a", 32), h("c", 64), h("d", 32), h("e", 32)}
    assert entries[h("c", 64)].signal_type == SignalType.PDQ
    assert entries[h("a", 32)].label == "NCMEC A1" and entries[h("d", 32)].label == "NCMEC B1"
    assert entries[h("e", 32)].extra["entry_type"] == "video"
    assert entries[h("a", 32)].extra["ncmec_entry"] == "42-img1"
    assert any("start=" in r for r in ncmec.requests)  # followed a next page
    assert any("1 sha1" in p.message and p.note for p in summary.problems)
    assert store.exchange_checkpoint("feed", "ncmec") == {"get_entries_max_ts": clock[0] - 5}
    assert all(a.startswith("Basic ") for a in ncmec.auth)


def test_incremental_fetch_and_deletion(ncmec: FakeNcmec, store: Store, clock: list[int]) -> None:
    t0 = clock[0] - 3600
    ncmec.records = [
        Record("img1", 42, t0, fingerprints={"md5": h("a", 32)}),
        Record("img2", 43, t0 - 60, fingerprints={"md5": h("b", 32)}),
        Record("img3", 44, t0 - 120, fingerprints={"md5": h("b", 32)}),  # same file, another member
    ]
    fetch(store)
    first = len(ncmec.requests)
    clock[0] += 7200
    t1 = clock[0] - 600
    ncmec.records += [
        Record("img4", 42, t1, fingerprints={"md5": h("f", 32)}),
        Record("img1", 42, t1, deleted=True),
        Record("img2", 43, t1, deleted=True),  # img3 still carries its md5
    ]
    summary = fetch(store)
    assert set(live(store)) == {h("b", 32), h("f", 32)}
    assert summary.result.added == 1 and summary.result.deleted == 1
    gone = [e for e in store.entries("feed") if e.value == h("a", 32)]
    assert gone and gone[0].deleted_at is not None  # soft delete: kept for reviewers
    windows = [parse_qs(urlsplit(r).query)["from"][0] for r in ncmec.requests[first:]]
    start = int(datetime.strptime(min(windows), _FMT).replace(tzinfo=UTC).timestamp())
    assert start >= NOW - 3 * 86400 - 5  # resumed from the checkpoint, not from the start
    clock[0] += 60
    assert fetch(store).result.deleted == 0  # nothing new: nothing changes


def test_missing_credentials_is_one_line(
    ncmec: FakeNcmec, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSBON_NCMEC_PASSWORD")
    with pytest.raises(ExchangeError) as info:
        fetch(store)
    assert str(info.value) == "ncmec: missing credential POSBON_NCMEC_PASSWORD"
    assert ncmec.requests == []


def test_config_file_credentials(
    ncmec: FakeNcmec, store: Store, clock: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("USER", "PASSWORD", "BASE_URL"):
        monkeypatch.delenv(f"POSBON_NCMEC_{name}")
    config = tmp_path / "exchanges.toml"
    config.write_text(f'[ncmec]\nuser = "{USER}"\npassword = "{PASSWORD}"\nbase_url = "{ncmec.base}"\n')
    ncmec.records = [Record("img1", 42, clock[0] - 100, fingerprints={"md5": h("a", 32)})]
    fetch_into_bank(store, "feed", make_exchange("ncmec", config))
    assert set(live(store)) == {h("a", 32)}


def test_server_error_is_one_line_and_keeps_checkpoint(
    ncmec: FakeNcmec, store: Store, clock: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    ncmec.records = [Record("img1", 42, clock[0] - 100, fingerprints={"md5": h("a", 32)})]
    fetch(store)
    before = store.exchange_checkpoint("feed", "ncmec")
    clock[0] += 3600
    ncmec.records.append(Record("img2", 42, clock[0] - 100, fingerprints={"md5": h("b", 32)}))
    ncmec.fail_with = 500
    with caplog.at_level("DEBUG"), pytest.raises(ExchangeError) as info:
        fetch(store)
    message = str(info.value)
    assert "\n" not in message and "nothing stored" in message and "500" in message
    assert PASSWORD not in message and PASSWORD not in caplog.text
    assert store.exchange_checkpoint("feed", "ncmec") == before
    assert set(live(store)) == {h("a", 32)}

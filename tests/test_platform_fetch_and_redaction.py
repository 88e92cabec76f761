"""Minimal mode's content fetch is bounded in bytes and in wall-clock time (a local platform streaming an
endless body, or dripping a byte at a time); a domain bank match keeps only the domain of the post's link;
a webhook endpoint's user:password and query token stay out of the audit record and the log lines."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from posbon.domain import BankEntry, SignalType
from posbon.match.matcher import Matcher
from posbon.platform import minimal
from posbon.platform.minimal import fetch_content, minimal_row
from posbon.platform.webhooks import add_endpoint, deliver_pending, list_deliveries, list_endpoints
from posbon.review import decide
from posbon.review.policies import active_policy
from posbon.signals.urls import url_signals
from posbon.store.review_models import AuditRecordRow
from posbon.text.links import extract_links
from test_web_support import build, item_row

HUGE_BYTES = 3 * 1024**3  # what the tester's callback streamed
CHUNK = b"a" * 65536


class Platform:
    """A content callback on 127.0.0.1 whose answer `write(handler)` writes (HTTP/1.0: no Content-Length,
    the body ends when the connection does); counts the body bytes it managed to send."""

    def __init__(self, write: Any) -> None:
        self.sent = 0
        self.done = threading.Event()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                try:
                    write(self, platform)
                except OSError:  # the client hung up: what the tests want
                    pass
                finally:
                    platform.done.set()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.template = f"http://127.0.0.1:{self.server.server_port}/content/{{source}}/{{external_id}}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _endless(handler: BaseHTTPRequestHandler, platform: Platform) -> None:
    # a small send buffer, so what the kernel buffers does not blur how much the client read
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(b'{"text": "')
    while platform.sent < HUGE_BYTES:  # produced lazily, until the client disconnects
        handler.wfile.write(CHUNK)
        platform.sent += len(CHUNK)


def _drip_body(handler: BaseHTTPRequestHandler, platform: Platform) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    for byte in b'{"text": "stand-in post, sent very slowly"}':
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        platform.sent += 1
        time.sleep(2.0)  # inside httpx's 3 s per-read timeout, every time


def _drip_headers(handler: BaseHTTPRequestHandler, platform: Platform) -> None:
    for byte in b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Stand-In: " + b"x" * 200:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        platform.sent += 1
        time.sleep(0.5)


@pytest.fixture
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    p = Platform(request.param)
    monkeypatch.setenv(minimal.CALLBACK_ENV, p.template)
    yield p
    p.close()


def _fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "posbon-content-fetch"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("platform", [_endless], indirect=True)
def test_an_endless_body_is_refused_at_the_size_limit_without_reading_it(platform: Platform) -> None:
    started = time.monotonic()
    got = fetch_content("plat", "1")
    elapsed = time.monotonic() - started
    assert got.error == "the platform's answer is too large to show" and got.text == ""
    assert elapsed < 3.0
    # the client hung up after about MAX_CONTENT_BYTES: the callback could send only that and what the
    # sockets' buffers hold, never the 3 GB it meant to
    assert platform.done.wait(5.0)
    assert minimal.MAX_CONTENT_BYTES < platform.sent < 10_000_000


@pytest.mark.timeout(60)
@pytest.mark.parametrize("platform", [_drip_body, _drip_headers], indirect=True)
def test_a_dripping_platform_is_given_up_on_at_the_deadline(platform: Platform) -> None:
    assert minimal.FETCH_DEADLINE_S == 5.0
    started = time.monotonic()
    got = fetch_content("plat", "1")
    elapsed = time.monotonic() - started
    assert got.error == "the platform did not answer within 5 s" and got.text == ""
    assert minimal.FETCH_DEADLINE_S - 0.5 < elapsed < minimal.FETCH_DEADLINE_S + 1.0
    # each read stayed within httpx's per-read timeout, so only the deadline stopped it
    assert platform.sent >= 2
    # the helper thread does not linger: it ends within one per-read timeout
    give_up = time.monotonic() + minimal.CALLBACK_TIMEOUT_S + 2.0
    while _fetch_threads() and time.monotonic() < give_up:
        time.sleep(0.1)
    assert _fetch_threads() == []


def _ok(handler: BaseHTTPRequestHandler, platform: Platform) -> None:
    body = json.dumps({"text": "stand-in post", "media": ["m-1"]}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("platform", [_ok], indirect=True)
def test_a_prompt_answer_without_content_length_is_still_shown(platform: Platform) -> None:
    got = fetch_content("plat", "1")
    assert got.error is None and got.text == "stand-in post" and got.media == ["m-1"]


def test_a_domain_match_keeps_the_domain_not_the_posts_link() -> None:
    text = "Winter gathering, details at https://lantern-signal.example/join/winter?ref=stand-in"
    matcher = Matcher([BankEntry(1, "sites", SignalType.DOMAIN, "lantern-signal.example", "stand-in site")])
    evidence = [e.to_dict() for e in matcher.match(url_signals(extract_links(text)))]
    assert len(evidence) == 1 and "/join/winter" in evidence[0]["detail"]  # what the matcher writes
    row = item_row(1, text=text, links={"urls": ["https://lantern-signal.example/join/winter?ref=stand-in"]})
    row["evidence"] = evidence
    out = minimal_row(row)
    assert out["links"] == {}
    (kept,) = out["evidence"]
    assert kept["detail"].startswith("link lantern-signal.example is on domain lantern-signal.example, ")
    assert "stand-in site" in kept["detail"] and kept["entry_id"] == 1 and kept["bank"] == "sites"
    for own in ("join", "winter", "ref=", "https://"):
        assert own not in kept["detail"], own
    assert evidence[0]["detail"].startswith("link https://lantern-signal.example/join/winter")  # untouched


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers 500 and records the path and Authorization it got."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, self.headers.get("Authorization")))
                self.send_response(500)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_endpoint_credentials_stay_out_of_the_audit_record_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    try:
        monkeypatch.setenv("POSBON_HOOK_KEY", "stand-in-secret-for-tests-0123456789")
        fx = build(tmp_path)
        url = f"http://user:s3cret@127.0.0.1:{receiver.port}/hook?token=topsecret"
        label = f"http://127.0.0.1:{receiver.port}/hook"
        add_endpoint(fx.store, url, "POSBON_HOOK_KEY")
        decide(fx.store, "item0003", "no_action", reviewer="rita", reason="r", policy=active_policy(fx.store))
        with caplog.at_level(logging.WARNING, logger="posbon.platform.webhooks"):
            assert deliver_pending(fx.store).retrying == 1
    finally:
        receiver.close()
    # the endpoint is stored whole and delivered to whole: credentials and token reached the receiver
    assert [e.url for e in list_endpoints(fx.store)] == [url]
    assert receiver.requests and receiver.requests[0][0] == "/hook?token=topsecret"
    assert (receiver.requests[0][1] or "").startswith("Basic ")
    with fx.store.session() as s:
        added = select(AuditRecordRow).where(AuditRecordRow.action == "webhook.endpoint_add")
        records = s.scalars(added).all()
        assert len(records) == 1 and records[0].details["url"] == label
        everything = json.dumps([r.details for r in s.scalars(select(AuditRecordRow)).all()], default=str)
    warnings = [r.getMessage() for r in caplog.records if r.name == "posbon.platform.webhooks"]
    assert len(warnings) == 1 and label in warnings[0] and "HTTP 500" in warnings[0]
    stored_error = list_deliveries(fx.store)[0].last_error or ""
    for secret in ("s3cret", "topsecret", "user:"):
        assert secret not in everything and secret not in warnings[0] and secret not in stored_error, secret

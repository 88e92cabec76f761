"""Signed action webhooks: the outbox is written with the decision, a local receiver checks signatures
with the shipped verify function, failed attempts are retried with growing backoff, old timestamps are
refused, and a failed delivery can be retried by an admin."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from posbon.platform import verify, webhooks
from posbon.platform.webhooks import add_endpoint, attempts_for, deliver_pending, list_deliveries
from posbon.review import appeal as file_appeal
from posbon.review import decide, resolve_appeal
from posbon.review.policies import active_policy
from test_web_support import build, client

SECRET = "stand-in-secret-for-tests-0123456789"


class Receiver:
    """A platform endpoint on 127.0.0.1: answers `codes` in turn (then 200) and verifies each request."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify.verify_signature(SECRET, self.headers.get(verify.SIGNATURE_HEADER), body)
                    valid = True
                except verify.InvalidSignature:
                    valid = False
                code = receiver.codes.pop(0) if receiver.codes else 200
                receiver.received.append(
                    {
                        "valid": valid,
                        "body": body,
                        "key": self.headers.get("Idempotency-Key"),
                        "signature": self.headers.get(verify.SIGNATURE_HEADER),
                        "code": code,
                    }
                )
                self.send_response(code if valid else 401)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/posbon"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    codes = getattr(request, "param", [])
    r = Receiver(codes)
    yield r
    r.close()


def _setup(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("POSBON_HOOK_KEY", SECRET)
    fx = build(tmp_path)
    add_endpoint(fx.store, url, "POSBON_HOOK_KEY")
    return fx


def test_decision_and_statement_events_are_signed_and_verified(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx = _setup(tmp_path, receiver.url, monkeypatch)
    decision = decide(
        fx.store, "item0003", "label", reviewer="rita", reason="stand-in note", policy=active_policy(fx.store)
    )
    report = deliver_pending(fx.store)
    assert (report.delivered, report.retrying, report.failed) == (2, 0, 0)
    assert all(r["valid"] for r in receiver.received)
    events = {json.loads(r["body"])["type"]: json.loads(r["body"]) for r in receiver.received}
    assert set(events) == {"decision", "statement_of_reasons"}
    data = events["decision"]["data"]
    assert data["item"]["item_id"] == "item0003" and data["action"] == "label" and data["rule"] is None
    assert data["policy"]["version"] >= 1 and data["reviewer_note"] == "stand-in note"
    assert (
        data["statement_of_reasons_id"] == events["statement_of_reasons"]["data"]["statement_of_reasons_id"]
    )
    assert events["statement_of_reasons"]["data"]["statement"]["puid"] == "item0003"
    assert len({r["key"] for r in receiver.received}) == 2
    assert deliver_pending(fx.store).delivered == 0  # nothing left: delivered once

    # a reversal goes out as its own event
    appeal = file_appeal(fx.store, decision.id, "please re-check")
    resolve_appeal(fx.store, appeal.id, reviewer="ravi", upheld=False, reason="news reporting")
    assert deliver_pending(fx.store).delivered == 1
    reversal = json.loads(receiver.received[-1]["body"])
    assert reversal["type"] == "decision.reversed" and reversal["data"]["action_undone"] == "label"


def test_a_tampered_body_or_wrong_secret_fails_verification() -> None:
    body = b'{"type":"decision"}'
    now = int(time.time())
    header = f"t={now},sha256={verify.signature(SECRET, now, body)}"
    assert verify.verify_signature(SECRET, header, body) == now
    with pytest.raises(verify.InvalidSignature):
        verify.verify_signature(SECRET, header, body + b" ")
    with pytest.raises(verify.InvalidSignature):
        verify.verify_signature("another-secret", header, body)
    with pytest.raises(verify.InvalidSignature):
        verify.verify_signature(SECRET, "sha256=abc", body)
    with pytest.raises(verify.InvalidSignature):
        verify.verify_signature(SECRET, None, body)


def test_replayed_old_delivery_is_refused(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx = _setup(tmp_path, receiver.url, monkeypatch)
    decide(fx.store, "item0003", "label", reviewer="rita", reason="r", policy=active_policy(fx.store))
    deliver_pending(fx.store)
    first = receiver.received[0]
    stamp = int(first["signature"].split(",")[0].removeprefix("t="))
    # the same bytes and header, replayed ten minutes later
    with pytest.raises(verify.InvalidSignature, match="replay"):
        verify.verify_signature(SECRET, first["signature"], first["body"], now=stamp + 600)
    assert verify.verify_signature(SECRET, first["signature"], first["body"], now=stamp + 60) == stamp


@pytest.mark.parametrize("receiver", [[500, 500]], indirect=True)
def test_retries_with_growing_backoff_until_delivered_once(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx = _setup(tmp_path, receiver.url, monkeypatch)
    from posbon.platform.webhooks import WebhookEvent, enqueue_event
    from posbon.review.session import write_session

    with write_session(fx.store) as s:
        enqueue_event(s, WebhookEvent("decision", {"decision_id": 1, "note": "stand-in"}))
    t0 = datetime.now(UTC)
    assert deliver_pending(fx.store, now=t0, clock=time.time).retrying == 1
    delivery = list_deliveries(fx.store)[0]
    assert delivery.next_attempt_at is not None
    # not due yet: nothing is sent
    assert deliver_pending(fx.store, now=t0 + timedelta(seconds=5), clock=time.time).retrying == 0
    assert len(receiver.received) == 1
    t1 = t0 + timedelta(seconds=webhooks.backoff_s(1) + 1)
    assert deliver_pending(fx.store, now=t1, clock=time.time).retrying == 1
    t2 = t1 + timedelta(seconds=webhooks.backoff_s(2) + 1)
    assert deliver_pending(fx.store, now=t2, clock=time.time).delivered == 1
    assert deliver_pending(fx.store, now=t2 + timedelta(days=1), clock=time.time).delivered == 0

    assert [r["code"] for r in receiver.received] == [500, 500, 200]
    assert all(r["valid"] for r in receiver.received)
    assert len({r["key"] for r in receiver.received}) == 1  # one Idempotency-Key across the retries
    delivery = list_deliveries(fx.store)[0]
    assert delivery.status == "delivered" and delivery.attempts == 3
    attempts = attempts_for(fx.store, delivery.id)
    assert [a.status_code for a in attempts] == [500, 500, 200]
    waits = [
        (a.next_attempt_at.replace(tzinfo=UTC) - a.at.replace(tzinfo=UTC)).total_seconds()
        for a in attempts[:2]
        if a.next_attempt_at is not None
    ]
    assert len(waits) == 2 and 0 < waits[0] < waits[1]


def test_failed_delivery_is_kept_and_retried_by_an_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = Receiver([])
    url = closed.url
    closed.close()  # nobody listens there now
    fx = _setup(tmp_path, url, monkeypatch)
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 2)
    decide(fx.store, "item0003", "no_action", reviewer="rita", reason="r", policy=active_policy(fx.store))
    t0 = datetime.now(UTC)
    deliver_pending(fx.store, now=t0)
    report = deliver_pending(fx.store, now=t0 + timedelta(hours=1))
    assert report.failed == 1
    failed = list_deliveries(fx.store, status="failed")
    assert len(failed) == 1 and failed[0].last_error and SECRET not in failed[0].last_error
    assert len(attempts_for(fx.store, failed[0].id)) == 2

    c = client(fx)
    path = f"/api/v1/webhooks/deliveries/{failed[0].id}/retry"
    assert c.post(path, headers={"Authorization": f"Bearer {fx.keys['reviewer']}"}).status_code == 403
    r = c.post(path, headers={"Authorization": f"Bearer {fx.keys['admin']}"})
    assert r.status_code == 200 and r.json()["status"] == "pending"
    listed = c.get(
        "/api/v1/webhooks/deliveries?status=pending", headers={"Authorization": f"Bearer {fx.keys['admin']}"}
    )
    assert [d["id"] for d in listed.json()] == [failed[0].id]


def test_a_missing_secret_is_an_attempt_error_that_never_shows_a_secret(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx = _setup(tmp_path, receiver.url, monkeypatch)
    monkeypatch.delenv("POSBON_HOOK_KEY")
    decide(fx.store, "item0003", "no_action", reviewer="rita", reason="r", policy=active_policy(fx.store))
    assert deliver_pending(fx.store).retrying == 1 and receiver.received == []
    error = list_deliveries(fx.store)[0].last_error or ""
    assert "POSBON_HOOK_KEY is not set" in error

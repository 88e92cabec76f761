"""Signed action webhooks: the outbox is written with the decision; a local receiver checks every delivery
twice, with a plain HMAC-SHA256 over the raw body written here (the issue's words) and with the shipped
verify function; tampered bodies, wrong secrets, stale or mismatched send times are refused; failed attempts
are retried with growing backoff under one Idempotency-Key and a fresh signature; a failed delivery can be
retried by an admin."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
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


def literal_spec_valid(secret: str, header: str | None, body: bytes) -> bool:
    """The receiver the issue describes, written without posbon's code: HMAC-SHA256 of the raw body, hex,
    compared with what follows `sha256=` in the X-Posbon-Signature header."""
    if header is None or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


class Receiver:
    """A platform endpoint on 127.0.0.1: answers `codes` in turn (then 200) and verifies each request both
    ways; `now` (None: the real clock) is the receiver's clock for posbon's replay check."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.received: list[dict[str, Any]] = []
        self.now: float | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get(verify.SIGNATURE_HEADER)
                stamp = self.headers.get(verify.TIMESTAMP_HEADER)
                try:
                    verify.verify_signature(SECRET, header, body, timestamp_header=stamp, now=receiver.now)
                    valid = True
                except verify.InvalidSignature:
                    valid = False
                literal = literal_spec_valid(SECRET, header, body)
                code = receiver.codes.pop(0) if receiver.codes else 200
                receiver.received.append(
                    {
                        "valid": valid,
                        "literal": literal,
                        "body": body,
                        "key": self.headers.get("Idempotency-Key"),
                        "signature": header,
                        "timestamp": stamp,
                        "code": code,
                    }
                )
                self.send_response(code if valid and literal else 401)
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
    assert all(r["valid"] and r["literal"] for r in receiver.received)
    for r in receiver.received:
        envelope = json.loads(r["body"])
        assert r["signature"] == "sha256=" + hmac.new(SECRET.encode(), r["body"], hashlib.sha256).hexdigest()
        assert type(envelope["sent_at"]) is int and str(envelope["sent_at"]) == r["timestamp"]
        assert envelope["id"] == r["key"]
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


def _signed(envelope: dict[str, Any], secret: str = SECRET) -> tuple[str, bytes]:
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return verify.signature_header(secret, body), body


def test_verify_refuses_tampered_bodies_wrong_secrets_and_bad_headers() -> None:
    now = 1_800_000_000
    header, body = _signed({"id": "e1", "type": "decision", "sent_at": now, "data": {"action": "label"}})
    assert verify.verify_signature(SECRET, header, body, timestamp_header=str(now), now=now)["id"] == "e1"
    assert verify.verify_signature(SECRET, header.upper().replace("SHA256=", "sha256="), body, now=now)
    assert literal_spec_valid(SECRET, header, body)
    tampered = body.replace(b'"label"', b'"remove"')
    assert tampered != body and not literal_spec_valid(SECRET, header, tampered)
    with pytest.raises(verify.InvalidSignature, match="does not match the body"):
        verify.verify_signature(SECRET, header, tampered, now=now)
    assert not literal_spec_valid("another-secret", header, body)
    with pytest.raises(verify.InvalidSignature, match="does not match the body"):
        verify.verify_signature("another-secret", header, body, now=now)
    digest = header.removeprefix("sha256=")
    for bad in (None, "", "sha256=abc", digest, f"t={now},sha256={digest}", "sha1=" + digest[:40]):
        with pytest.raises(verify.InvalidSignature):
            verify.verify_signature(SECRET, bad, body, now=now)


@pytest.mark.parametrize(
    ("sent_at", "message"),
    [
        (None, 'no "sent_at"'),
        (1_800_000_000.0, "not a whole number"),
        ("1800000000", "not a whole"),
        (True, "not a whole number"),
        (1_800_000_000 - 301, "replay"),
        (1_800_000_000 + 301, "replay"),
    ],
)
def test_verify_refuses_a_missing_malformed_or_stale_sent_at(sent_at: Any, message: str) -> None:
    envelope: dict[str, Any] = {"id": "e1", "type": "decision", "data": {}}
    if sent_at is not None:
        envelope["sent_at"] = sent_at
    header, body = _signed(envelope)
    assert literal_spec_valid(SECRET, header, body)  # the HMAC is fine: only the time is wrong
    with pytest.raises(verify.InvalidSignature, match=message):
        verify.verify_signature(SECRET, header, body, now=1_800_000_000)


def test_verify_refuses_a_timestamp_header_that_differs_from_the_body_and_non_objects() -> None:
    now = 1_800_000_000
    header, body = _signed({"id": "e1", "sent_at": now})
    for stamp in (str(now + 1), "", "-1", "1.8e9", "x"):
        with pytest.raises(verify.InvalidSignature, match="X-Posbon-Timestamp"):
            verify.verify_signature(SECRET, header, body, timestamp_header=stamp, now=now)
    for raw in (b"[1, 2]", b"not json", b"\xff\xfe"):
        with pytest.raises(verify.InvalidSignature, match="not a JSON object|not JSON"):
            verify.verify_signature(SECRET, verify.signature_header(SECRET, raw), raw, now=now)


def test_replayed_old_delivery_is_refused(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx = _setup(tmp_path, receiver.url, monkeypatch)
    decide(fx.store, "item0003", "label", reviewer="rita", reason="r", policy=active_policy(fx.store))
    deliver_pending(fx.store)
    first = receiver.received[0]
    assert first["valid"] and first["literal"]
    sent_at = json.loads(first["body"])["sent_at"]
    assert first["timestamp"] == str(sent_at)
    args = (SECRET, first["signature"], first["body"])
    # the same bytes and headers, replayed ten minutes later: the HMAC still holds, the time does not
    assert literal_spec_valid(*args)
    with pytest.raises(verify.InvalidSignature, match="replay"):
        verify.verify_signature(*args, timestamp_header=first["timestamp"], now=sent_at + 600)
    event = verify.verify_signature(*args, timestamp_header=first["timestamp"], now=sent_at + 60)
    assert event["sent_at"] == sent_at and event["id"] == first["key"]
    # a replayer who refreshes only the (unsigned) timestamp header is caught by the body's sent_at
    with pytest.raises(verify.InvalidSignature, match="replay"):
        verify.verify_signature(*args, timestamp_header=str(sent_at + 600), now=sent_at + 600)
    # a timestamp header that disagrees with the body is refused even while the body is fresh
    with pytest.raises(verify.InvalidSignature, match="X-Posbon-Timestamp"):
        verify.verify_signature(*args, timestamp_header=str(sent_at + 1), now=sent_at)
    # ... and one who edits sent_at in the body breaks the signature
    fresh = first["body"].replace(f'"sent_at":{sent_at}'.encode(), f'"sent_at":{sent_at + 600}'.encode())
    assert fresh != first["body"] and not literal_spec_valid(SECRET, first["signature"], fresh)
    with pytest.raises(verify.InvalidSignature, match="does not match"):
        verify.verify_signature(SECRET, first["signature"], fresh, now=sent_at + 600)


@pytest.mark.parametrize("receiver", [[500, 500]], indirect=True)
def test_retries_with_growing_backoff_until_delivered_once(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx = _setup(tmp_path, receiver.url, monkeypatch)
    from posbon.platform.webhooks import WebhookEvent, enqueue_event
    from posbon.review.session import write_session

    with write_session(fx.store) as s:
        enqueue_event(s, WebhookEvent("decision", {"decision_id": 1, "note": "stand-in"}))
    # `now` is both what is due and each attempt's sent_at; the receiver's clock follows it
    t0 = datetime.now(UTC)
    receiver.now = t0.timestamp()
    assert deliver_pending(fx.store, now=t0).retrying == 1
    delivery = list_deliveries(fx.store)[0]
    assert delivery.next_attempt_at is not None
    # not due yet: nothing is sent
    assert deliver_pending(fx.store, now=t0 + timedelta(seconds=5)).retrying == 0
    assert len(receiver.received) == 1
    t1 = t0 + timedelta(seconds=webhooks.backoff_s(1) + 1)
    receiver.now = t1.timestamp()
    assert deliver_pending(fx.store, now=t1).retrying == 1
    t2 = t1 + timedelta(seconds=webhooks.backoff_s(2) + 1)
    receiver.now = t2.timestamp()
    assert deliver_pending(fx.store, now=t2).delivered == 1
    assert deliver_pending(fx.store, now=t2 + timedelta(days=1)).delivered == 0

    assert [r["code"] for r in receiver.received] == [500, 500, 200]
    assert all(r["valid"] and r["literal"] for r in receiver.received)
    assert len({r["key"] for r in receiver.received}) == 1  # one Idempotency-Key across the retries
    envelopes = [json.loads(r["body"]) for r in receiver.received]
    assert len({e["id"] for e in envelopes}) == 1 and envelopes[0]["id"] == receiver.received[0]["key"]
    # each retry was signed afresh: its own sent_at (the attempt's time), its own signature
    assert [e["sent_at"] for e in envelopes] == [int(t.timestamp()) for t in (t0, t1, t2)]
    assert [r["timestamp"] for r in receiver.received] == [str(e["sent_at"]) for e in envelopes]
    assert len({r["signature"] for r in receiver.received}) == 3
    assert all({**e, "sent_at": 0} == {**envelopes[0], "sent_at": 0} for e in envelopes)  # nothing else moved
    # at the last attempt's time (92 s on) and with a 60 s tolerance, the first request is a stale replay
    # while the last one, signed afresh, passes
    first, last = receiver.received[0], receiver.received[-1]
    with pytest.raises(verify.InvalidSignature, match="replay"):
        verify.verify_signature(SECRET, first["signature"], first["body"], tolerance_s=60, now=t2.timestamp())
    assert verify.verify_signature(
        SECRET, last["signature"], last["body"], tolerance_s=60, now=t2.timestamp()
    )
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

"""Verify a posbon webhook on the receiving side. Standard library only: copy this file into your receiver.

posbon sends each delivery as a JSON object and signs the raw body bytes alone (the convention of GitHub's
X-Hub-Signature-256):

    X-Posbon-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
    X-Posbon-Timestamp: <unix seconds>       (a copy of the body's "sent_at", not signed itself)
    Idempotency-Key: <one value per event, the same on every retry>

The send time is inside the signed body, as the top-level integer ``"sent_at"`` (set afresh on every
attempt, while the event's ``"id"`` and the Idempotency-Key stay the same), so it cannot be changed without
breaking the signature. A receiver written only to the signature rule above,
``hmac.compare_digest(hmac.new(secret, raw_body, hashlib.sha256).hexdigest(), header[7:])``, accepts
posbon's deliveries; `verify_signature` adds the replay check: it refuses a ``sent_at`` more than
`tolerance_s` away from your clock. Check the raw bytes you received (before parsing JSON or re-encoding
them), and drop events whose Idempotency-Key you already processed (deliveries are at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
import time
from typing import Any

SIGNATURE_HEADER = "X-Posbon-Signature"
TIMESTAMP_HEADER = "X-Posbon-Timestamp"
DEFAULT_TOLERANCE_S = 300
_PREFIX = "sha256="


class InvalidSignature(Exception):
    """The delivery is not from posbon, was altered, or is too old."""


def signature(secret: str | bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of the raw `body` under `secret` (what follows ``sha256=`` in the header)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, body: bytes) -> str:
    """The `X-Posbon-Signature` value for `body`: ``sha256=<hex>``."""
    return _PREFIX + signature(secret, body)


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    timestamp_header: str | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a delivery: `header` is its `X-Posbon-Signature`, `body` the raw bytes received, and
    `timestamp_header` its `X-Posbon-Timestamp` (optional). Returns the parsed JSON event.

    Raises InvalidSignature when the header is missing or not ``sha256=<64 hex digits>``, the HMAC of the
    body does not match, the body is not a JSON object, its ``sent_at`` is missing, not a whole number or
    more than `tolerance_s` seconds from `now` (default: this machine's clock), or `timestamp_header` is
    given and differs from ``sent_at``.
    """
    if not header:
        raise InvalidSignature(f"no {SIGNATURE_HEADER} header")
    given = header.strip()
    digest = given[len(_PREFIX) :].lower()
    if not given.startswith(_PREFIX) or len(digest) != 64 or any(ch not in string.hexdigits for ch in digest):
        raise InvalidSignature(f"{SIGNATURE_HEADER} must look like sha256=<64 hex digits>")
    if not hmac.compare_digest(signature(secret, body).encode("ascii"), digest.encode("ascii")):
        raise InvalidSignature("the signature does not match the body")
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSignature("the signed body is not JSON") from exc
    if not isinstance(event, dict):
        raise InvalidSignature("the signed body is not a JSON object")
    sent_at = event.get("sent_at")
    if sent_at is None:
        raise InvalidSignature('the signed body has no "sent_at"')
    if type(sent_at) is not int:  # bool is an int subclass; a float or string is refused too
        raise InvalidSignature('"sent_at" in the signed body is not a whole number of seconds')
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        raise InvalidSignature(f'"sent_at" is more than {tolerance_s} s from this clock: a replay?')
    if timestamp_header is not None:
        stamp = timestamp_header.strip()
        if not (stamp.isascii() and stamp.isdigit()) or int(stamp) != sent_at:
            raise InvalidSignature(f'{TIMESTAMP_HEADER} does not match "sent_at" in the signed body')
    return event

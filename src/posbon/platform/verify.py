"""Verify a posbon webhook on the receiving side. Standard library only: copy this file into your receiver.

posbon signs each delivery with HMAC-SHA256 over ``timestamp + "." + raw body`` and sends

    X-Posbon-Signature: t=<unix seconds>,sha256=<hex digest>
    Idempotency-Key: <one value per event, the same on every retry>

Check the signature on the raw bytes you received (before parsing JSON), refuse timestamps more than
`tolerance_s` away from your clock (replay protection), and drop events whose Idempotency-Key you already
processed (deliveries are at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Posbon-Signature"
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(Exception):
    """The delivery is not from posbon, was altered, or is too old."""


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}." + body`` under `secret`."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check an `X-Posbon-Signature` header against the raw `body`; return its timestamp.

    Raises InvalidSignature when the header is missing or malformed, the digest does not match, or the
    timestamp is more than `tolerance_s` seconds from `now` (default: this machine's clock).
    """
    if not header:
        raise InvalidSignature(f"no {SIGNATURE_HEADER} header")
    parts: dict[str, str] = {}
    for piece in header.split(","):
        name, sep, value = piece.strip().partition("=")
        if sep:
            parts[name] = value
    if "t" not in parts or "sha256" not in parts:
        raise InvalidSignature(f"{SIGNATURE_HEADER} must look like t=<unix>,sha256=<hex>")
    try:
        timestamp = int(parts["t"])
    except ValueError as exc:
        raise InvalidSignature("the signature timestamp is not a whole number") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise InvalidSignature(f"the signature timestamp is more than {tolerance_s} s away: a replay?")
    expected = signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, parts["sha256"]):
        raise InvalidSignature("the signature does not match the body")
    return timestamp

"""Privacy by design: authors are pseudonymised with a keyed hash before anything is stored."""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymizer:
    """Turns a raw author id into a stable pseudonym (HMAC-SHA256 under a secret key).

    Without the key nobody can tell which account a pseudonym stands for, nor test a guess.
    """

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the pseudonymisation key must not be empty")
        self._key = key

    def __call__(self, raw_author: str | None) -> str | None:
        if raw_author is None:
            return None
        raw = str(raw_author).strip()
        if not raw:
            return None
        digest = hmac.new(self._key, raw.encode("utf-8"), hashlib.sha256).hexdigest()
        return "a_" + digest[:20]

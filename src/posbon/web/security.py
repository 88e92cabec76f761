"""Secrets, sessions, CSRF tokens and login rate limiting for the review web app.

Sessions are kept on the server (a random id -> who, role, CSRF token, expiry); the browser holds only the
session id, signed with itsdangerous so a forged or tampered cookie is refused before any lookup. Keeping
them in memory means a restart logs everyone out, which is the safe direction for a review tool.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "posbon_session"
LOGIN_CSRF_COOKIE = "posbon_login_csrf"
SESSION_LIFETIME_S = 8 * 3600
SECRET_FILE = "web-secret.key"


def load_secret_key(data_dir: Path) -> bytes:
    """POSBON_SECRET_KEY, else a random key kept in DATA_DIR/web-secret.key (created 0600). Never logged."""
    from_env = os.environ.get("POSBON_SECRET_KEY")
    if from_env:
        return from_env.encode()
    key_file = data_dir / SECRET_FILE
    if key_file.exists():
        return key_file.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def cookie_secure_forced() -> bool:
    return os.environ.get("POSBON_COOKIE_SECURE", "").strip().lower() in ("1", "true", "yes")


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing token never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Session:
    sid: str
    username: str
    role: str
    csrf: str
    created: float
    expires: float


class SessionStore:
    """Signed session ids in the cookie; the session itself stays here."""

    def __init__(self, secret: bytes, lifetime_s: int = SESSION_LIFETIME_S) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="posbon-session")
        self._login_signer = URLSafeTimedSerializer(secret, salt="posbon-login-csrf")
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.lifetime_s = lifetime_s

    def create(self, username: str, role: str) -> Session:
        now = time.time()
        session = Session(
            sid=secrets.token_urlsafe(32),
            username=username,
            role=role,
            csrf=secrets.token_urlsafe(32),
            created=now,
            expires=now + self.lifetime_s,
        )
        with self._lock:
            self._sessions[session.sid] = session
            if len(self._sessions) > 10_000:  # bound memory: drop expired sessions now and then
                for sid in [s for s, v in self._sessions.items() if v.expires < now]:
                    del self._sessions[sid]
        return session

    def cookie_value(self, session: Session) -> str:
        return self._signer.dumps(session.sid)

    def from_cookie(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            sid = self._signer.loads(value, max_age=self.lifetime_s)
        except BadSignature:
            return None
        if not isinstance(sid, str):
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if session.expires < time.time():
                del self._sessions[sid]
                return None
            return session

    def drop(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def drop_user(self, username: str) -> None:
        with self._lock:
            for sid in [s for s, v in self._sessions.items() if v.username == username]:
                del self._sessions[sid]

    # The login form has no session yet: its CSRF token is double-submitted (cookie + form field),
    # and the cookie is signed so another site cannot plant a matching pair.
    def new_login_token(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(24)
        return token, self._login_signer.dumps(token)

    def login_token_from_cookie(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            token = self._login_signer.loads(value, max_age=3600)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None


@dataclass
class LoginLimiter:
    """At most `max_failures` failed logins per (username, client address) in `window_s` seconds."""

    max_failures: int = 5
    window_s: float = 15 * 60
    _failures: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, username: str, address: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        now = time.time() if now is None else now
        with self._lock:
            q = self._recent((username.lower(), address), now)
            if len(q) < self.max_failures:
                return 0
            return max(1, int(q[0] + self.window_s - now) + 1)

    def failed(self, username: str, address: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._recent((username.lower(), address), now).append(now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)

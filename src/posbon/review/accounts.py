"""Users (for the web login) and API keys. Passwords are kept as argon2id hashes (argon2-cffi); API keys as
sha256 of a random 32-byte token, shown once when created."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from posbon.review import audit
from posbon.review.session import ReviewError, aware, now_utc, write_session
from posbon.store import Store
from posbon.store.review_models import ApiKeyRow, UserRow

ROLES = ("admin", "reviewer", "viewer")  # people (web login) and API keys
# Roles for API keys of machine clients only (the HMA-compatible match service, posbon.web.hma): `matcher`
# may look up and hash, `curator` may also change banks. They reach no review page or review API route.
SERVICE_ROLES = ("curator", "matcher")
API_KEY_ROLES = ROLES + SERVICE_ROLES
DECIDING_ROLES = frozenset({"admin", "reviewer"})
MIN_PASSWORD = 10
TOKEN_PREFIX = "pbk_"

# OWASP's argon2id setting (19 MiB, 2 passes, 1 lane): ~0.15 s a hash on a small 2-core server, where the
# library's default (64 MiB, 3 passes, 4 lanes) took 1.2 s, too slow for a login page under load.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_dummy_hash: str | None = None


def _dummy() -> str:
    """A hash to verify against for unknown user names, so they cost as much as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_hex(16))
    return _dummy_hash


def _check_role(role: str, allowed: tuple[str, ...] = ROLES) -> None:
    if role not in allowed:
        raise ReviewError(f"role must be one of {', '.join(allowed)}, got {role!r}")


def create_user(store: Store, username: str, password: str, role: str, *, actor: str = "cli") -> UserRow:
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username) or "|" in username:
        raise ReviewError("a user name is 1-100 characters without spaces or '|'")
    _check_role(role)
    if len(password) < MIN_PASSWORD:
        raise ReviewError(f"a password needs at least {MIN_PASSWORD} characters")
    with write_session(store) as s:
        if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
            raise ReviewError(f"user {username!r} already exists")
        user = UserRow(
            username=username, password_hash=_hasher.hash(password), role=role, created_at=now_utc()
        )
        s.add(user)
        s.flush()
        audit.append(s, actor=actor, action="user.create", subject=f"user:{username}", details={"role": role})
    return user


def set_user_disabled(store: Store, username: str, disabled: bool, *, actor: str = "cli") -> UserRow:
    with write_session(store) as s:
        user = s.scalar(select(UserRow).where(UserRow.username == username))
        if user is None:
            raise ReviewError(f"no user named {username!r}")
        user.disabled = disabled
        audit.append(
            s, actor=actor, action="user.disable" if disabled else "user.enable", subject=f"user:{username}"
        )
    return user


def list_users(store: Store) -> list[UserRow]:
    with store.session() as s:
        return list(s.scalars(select(UserRow).order_by(UserRow.username)).all())


def get_user(store: Store, username: str) -> UserRow | None:
    with store.session() as s:
        return s.scalar(select(UserRow).where(UserRow.username == username))


def verify_password(store: Store, username: str, password: str) -> UserRow | None:
    """The user if the password is right and the account enabled; None otherwise. Not audited: the web
    layer calls `record_login` with the outcome."""
    user = get_user(store, username)
    try:
        if user is None:
            _hasher.verify(_dummy(), password)
            return None
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        with write_session(store) as s:
            row = s.get(UserRow, user.id)
            if row is not None:
                row.password_hash = _hasher.hash(password)
    return user


def record_login(store: Store, username: str, ok: bool) -> None:
    """Audit a login attempt (never the password)."""
    with write_session(store) as s:
        audit.append(
            s,
            actor=username[:100],
            action="login.ok" if ok else "login.failed",
            subject=f"user:{username[:100]}",
        )


API_KEY_ACTOR_PREFIX = "key:"  # how a machine client acting through an API key is named in records


def require_decider(store: Store, username: str) -> UserRow | ApiKeyRow:
    """The enabled user, or the unrevoked API key ("key:NAME"), whose role may decide; else a ReviewError.

    A platform's own moderation system acts through an API key with the reviewer role; its decisions are
    recorded under the key's name, so "a different reviewer" rules hold between keys and people alike.
    """
    if username.startswith(API_KEY_ACTOR_PREFIX):
        name = username.removeprefix(API_KEY_ACTOR_PREFIX)
        with store.session() as s:
            key = s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
        if key is None or key.revoked_at is not None:
            raise ReviewError(f"API key {name!r} does not exist or was revoked")
        if key.role not in DECIDING_ROLES:
            raise ReviewError(f"API key {name!r} has role {key.role}; deciding needs reviewer or admin")
        return key
    user = get_user(store, username)
    if user is None or user.disabled:
        raise ReviewError(f"{username!r} is not an enabled user: add one with `posbon user add`")
    if user.role not in DECIDING_ROLES:
        raise ReviewError(f"user {username!r} has role {user.role}; deciding needs reviewer or admin")
    return user


def _key_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_key(store: Store, name: str, role: str, *, actor: str = "cli") -> str:
    """A new API key; the token is returned once and only its hash is stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ReviewError("an API key needs a name of 1-100 characters")
    _check_role(role, API_KEY_ROLES)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_session(store) as s:
        if s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name)) is not None:
            raise ReviewError(f"an API key named {name!r} already exists")
        s.add(ApiKeyRow(name=name, key_hash=_key_hash(token), role=role, created_at=now_utc()))
        audit.append(s, actor=actor, action="apikey.create", subject=f"apikey:{name}", details={"role": role})
    return token


LAST_USED_GRANULARITY = timedelta(minutes=1)


# Verified keys are remembered for a few seconds: without this, every match API lookup ran a SELECT on the
# API key table (the busiest query of a match server). A key revoked by another process (the CLI, another
# worker) stops working within API_KEY_CACHE_SECONDS; a revocation in this process takes effect at once.
# Only hits are cached (a made-up token must not fill memory or hide a key created a moment later).
# Hand-written: a dict with expiry times is all this needs; cachetools' TTLCache is not a dependency.
API_KEY_CACHE_SECONDS = 5.0
API_KEY_CACHE_MAX = 1024
_key_cache: dict[tuple[str, str], tuple[ApiKeyRow, float]] = {}
_key_cache_lock = threading.Lock()
_refreshing: set[tuple[str, str]] = set()  # keys being verified again in the background
_clock = time.monotonic  # tests replace it


def _cache_key(store: Store, digest: str) -> tuple[str, str]:
    return (str(store.engine.url), digest)


def clear_api_key_cache() -> None:
    """Forget every remembered key (tests; after a bulk change of keys)."""
    with _key_cache_lock:
        _key_cache.clear()


def cached_api_key(store: Store, token: str) -> ApiKeyRow | None:
    """The key a token belongs to if it was verified in the last API_KEY_CACHE_SECONDS, else None.

    Never asks the database (the match API's fast path calls it on the event loop); None means "verify it
    the ordinary way", not "refused". A key past half its time is verified again in a background thread
    while this keeps answering, so a busy key never waits for the database (a verification on the event
    loop, behind another process's write of `last_used_at`, stalled lookups for 100 ms and more).
    """
    if not token:
        return None
    slot = _cache_key(store, _key_hash(token))
    cached = _key_cache.get(slot)
    now = _clock()
    if cached is None or now >= cached[1]:
        return None
    if now >= cached[1] - API_KEY_CACHE_SECONDS / 2:
        with _key_cache_lock:
            start = slot not in _refreshing
            _refreshing.add(slot)
        if start:
            threading.Thread(target=_refresh, args=(store, token, slot), daemon=True).start()
    return cached[0]


def _refresh(store: Store, token: str, slot: tuple[str, str]) -> None:
    try:
        verify_api_key(store, token, use_cache=False)
    except Exception:  # noqa: BLE001 - the next request verifies the ordinary way
        with _key_cache_lock:
            _key_cache.pop(slot, None)
    finally:
        with _key_cache_lock:
            _refreshing.discard(slot)


def verify_api_key(store: Store, token: str, *, use_cache: bool = True) -> ApiKeyRow | None:
    """The key a token belongs to if it is not revoked (and notes when it was last used); else None.

    A key verified in the last API_KEY_CACHE_SECONDS is answered from memory without asking the database.
    """
    if not token:
        return None
    digest = _key_hash(token)
    slot = _cache_key(store, digest)
    now_mono = _clock()
    cached = _key_cache.get(slot)
    if use_cache and cached is not None and now_mono < cached[1]:
        return cached[0]
    with store.session() as s:
        key = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
        if key is None or key.revoked_at is not None:
            with _key_cache_lock:
                _key_cache.pop(slot, None)
            return None
        now = now_utc()
        last = aware(key.last_used_at)
        # a write on every request would serialise a match API on the database: once a minute is enough
        if last is None or now - last >= LAST_USED_GRANULARITY:
            key.last_used_at = now
    with _key_cache_lock:
        if len(_key_cache) >= API_KEY_CACHE_MAX:
            _key_cache.clear()
        _key_cache[slot] = (key, now_mono + API_KEY_CACHE_SECONDS)
    return key


def revoke_api_key(store: Store, name: str, *, actor: str = "cli") -> ApiKeyRow:
    with write_session(store) as s:
        key = s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
        if key is None:
            raise ReviewError(f"no API key named {name!r}")
        if key.revoked_at is None:
            key.revoked_at = now_utc()
            audit.append(s, actor=actor, action="apikey.revoke", subject=f"apikey:{name}")
        revoked_slot = _cache_key(store, key.key_hash)
    with _key_cache_lock:
        _key_cache.pop(revoked_slot, None)  # this process stops accepting it at once
    return key


def list_api_keys(store: Store) -> list[ApiKeyRow]:
    with store.session() as s:
        return list(s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.name)).all())

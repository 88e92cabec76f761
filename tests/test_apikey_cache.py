"""The in-process cache of verified API keys: lookups skip the database, and a revoked key stops working
within API_KEY_CACHE_SECONDS (at once when revoked in the same process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from posbon.review import accounts
from posbon.review.accounts import API_KEY_CACHE_SECONDS, create_api_key, revoke_api_key, verify_api_key
from posbon.review.session import now_utc
from posbon.store import Store
from posbon.store.review_models import ApiKeyRow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(accounts, "_clock", fake)
    accounts.clear_api_key_cache()
    yield fake
    accounts.clear_api_key_cache()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'keys.db'}")


def count_sessions(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = store.session

    def counting() -> object:
        calls[0] += 1
        return real()

    monkeypatch.setattr(store, "session", counting)
    return calls


def revoke_elsewhere(store: Store, token: str) -> None:
    """Revoke as another process would: straight in the database, not through this process's cache."""
    with Session(store.engine) as s, s.begin():
        s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.key_hash == accounts._key_hash(token))
            .values(revoked_at=now_utc())
        )


def test_verified_key_is_answered_from_memory(
    store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = create_api_key(store, "m", "matcher")
    calls = count_sessions(store, monkeypatch)
    first = verify_api_key(store, token)
    assert first is not None and first.role == "matcher"
    for _ in range(50):
        clock.now += 0.05
        key = verify_api_key(store, token)
        assert key is not None and key.name == "m"
    assert calls[0] == 1  # one query, then 50 answers from the cache
    clock.now += API_KEY_CACHE_SECONDS
    assert verify_api_key(store, token) is not None
    assert calls[0] == 2  # expired: checked against the database again


def test_revoked_elsewhere_stops_within_the_window(store: Store, clock: Clock) -> None:
    token = create_api_key(store, "m", "matcher")
    assert verify_api_key(store, token) is not None
    revoke_elsewhere(store, token)
    clock.now += API_KEY_CACHE_SECONDS - 0.5
    assert verify_api_key(store, token) is not None  # still cached: the documented window
    clock.now += 0.5
    assert verify_api_key(store, token) is None
    clock.now += 0.1
    assert verify_api_key(store, token) is None  # a miss is not cached as a hit later


def test_revoked_in_this_process_stops_at_once(store: Store, clock: Clock) -> None:
    token = create_api_key(store, "m", "matcher")
    assert verify_api_key(store, token) is not None
    revoke_api_key(store, "m")
    assert verify_api_key(store, token) is None


def test_unknown_tokens_are_not_cached(store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    create_api_key(store, "m", "matcher")
    calls = count_sessions(store, monkeypatch)
    for i in range(5):
        assert verify_api_key(store, f"posbon_wrong{i}") is None
    assert calls[0] == 5
    assert not accounts._key_cache


def test_cache_is_per_store(tmp_path: Path, clock: Clock) -> None:
    one = Store.open(f"sqlite:///{tmp_path / 'one.db'}")
    two = Store.open(f"sqlite:///{tmp_path / 'two.db'}")
    token = create_api_key(one, "m", "matcher")
    assert verify_api_key(one, token) is not None
    assert verify_api_key(two, token) is None


def test_the_fast_paths_cache_is_verified_again_in_the_background(store: Store, clock: Clock) -> None:
    """cached_api_key never touches the database itself; past half its time a thread verifies the key
    again, so a key revoked by another process stops working without any request waiting on the database."""
    import time

    token = create_api_key(store, "uploads", "matcher")
    assert accounts.cached_api_key(store, token) is None  # not verified yet: the ordinary way first
    assert verify_api_key(store, token) is not None
    assert accounts.cached_api_key(store, token) is not None
    revoke_elsewhere(store, token)
    clock.now += API_KEY_CACHE_SECONDS * 0.6  # past half its time: still answered, and checked again
    assert accounts.cached_api_key(store, token) is not None
    deadline = time.monotonic() + 5
    while accounts.cached_api_key(store, token) is not None:
        assert time.monotonic() < deadline, "the background check did not drop the revoked key"
        time.sleep(0.02)
    assert verify_api_key(store, token) is None

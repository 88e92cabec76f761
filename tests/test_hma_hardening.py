"""Hardening of the HMA-compatible API (/api/hma) against malformed input, and of Store.add_entries against
concurrent adds of the same signal: every case here once gave a 500 (or a stored error) on SQLite or
PostgreSQL. Runs on both databases (POSBON_TEST_PG=1: each test gets a fresh PostgreSQL database)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from posbon.domain import SignalType
from posbon.match.banklist import NewEntry
from posbon.review.accounts import create_api_key
from posbon.settings import Settings
from posbon.store import Store
from posbon.store.changelog_models import OP_ADD, BankChangeRow
from posbon.store.models import BankEntryRow, BankRow
from posbon.web import create_app

H = "/api/hma"
PDQ = "f" * 16 + "0" * 16 + "a5" * 16


@dataclass
class Env:
    client: TestClient
    keys: dict[str, str]
    store: Store
    url: str

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    keys = {role: create_api_key(store, f"{role}-key", role) for role in ("curator", "viewer")}
    return Env(TestClient(create_app(settings)), keys, store, settings.database_url)


def make_bank(env: Env, name: str = "TEST_BANK") -> None:
    r = env.client.post(f"{H}/c/banks", json={"name": name}, headers=env.as_("curator"))
    assert r.status_code == 201, r.text


def bank_signal(env: Env, signals: dict[str, str]) -> int:
    r = env.client.post(f"{H}/c/bank/TEST_BANK/signal", json=signals, headers=env.as_("curator"))
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def entry_count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(BankEntryRow)) or 0)


# ---- 1a: content ids beyond the id column ------------------------------------------------------------


@pytest.mark.parametrize("content_id", [2**31, 2**31 + 5, 2**63, 10**30, -1, -(2**63) - 1])
def test_content_id_out_of_range_is_not_found(env: Env, content_id: int) -> None:
    make_bank(env)
    bank_signal(env, {"pdq": PDQ})
    c, cur = env.client, env.as_("curator")
    url = f"{H}/c/bank/TEST_BANK/content/{content_id}"
    got = c.get(url, headers=env.as_("viewer"))
    assert got.status_code == 404, got.text
    assert got.json()["message"] == f"content '{content_id}' not found"
    put = c.put(url, json={"disable_until_ts": 0}, headers=cur)
    assert put.status_code == 404, put.text
    # DELETE answers an unknown id as HMA does (and as for any other unknown id): nothing deleted
    deleted = c.delete(url, headers=cur)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"deleted": 0}
    assert entry_count(env.store) == 1


def test_content_ids_in_range_still_work(env: Env) -> None:
    make_bank(env)
    content_id = bank_signal(env, {"pdq": PDQ})
    c, cur = env.client, env.as_("curator")
    assert c.get(f"{H}/c/bank/TEST_BANK/content/{content_id}", headers=cur).json()["id"] == content_id
    assert c.get(f"{H}/c/bank/TEST_BANK/content/{2**31 - 1}", headers=cur).status_code == 404
    assert c.delete(f"{H}/c/bank/TEST_BANK/content/{content_id}", headers=cur).json() == {"deleted": 1}


# ---- 1b: disable_until_ts that is no integer ---------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"disable_until_ts": 1e400}',  # parsed as inf
        b'{"disable_until_ts": -1e400}',
        b'{"disable_until_ts": Infinity}',
        b'{"disable_until_ts": NaN}',
        b'{"disable_until_ts": "soon"}',
        b'{"disable_until_ts": [1]}',
        b'{"disable_until_ts": -5}',
    ],
)
def test_bad_disable_until_ts_is_400(env: Env, body: bytes) -> None:
    make_bank(env)
    content_id = bank_signal(env, {"pdq": PDQ})
    r = env.client.put(
        f"{H}/c/bank/TEST_BANK/content/{content_id}",
        content=body,
        headers={**env.as_("curator"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "disable_until_ts must be a non-negative integer"
    got = env.client.get(f"{H}/c/bank/TEST_BANK/content/{content_id}", headers=env.as_("viewer"))
    assert got.json()["enabled"] is True


def test_huge_integer_disable_until_ts_disables(env: Env) -> None:
    """A huge (future) time is a valid HMA disable_until_ts: it disables, it does not crash."""
    make_bank(env)
    content_id = bank_signal(env, {"pdq": PDQ})
    r = env.client.put(
        f"{H}/c/bank/TEST_BANK/content/{content_id}",
        content=json.dumps({"disable_until_ts": 10**400}).encode(),
        headers={**env.as_("curator"), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False


# ---- 1c: metadata content_id of the wrong type --------------------------------------------------------


def png() -> bytes:
    """A made-up picture (blocks of seeded noise)."""
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(np.kron(blocks, np.ones((32, 32, 1), dtype=np.uint8)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def add_file(env: Env, metadata: object) -> httpx.Response:
    return env.client.post(
        f"{H}/c/bank/TEST_BANK/content",
        files={"photo": ("p.png", png(), "image/png")},
        data={"metadata": json.dumps(metadata)},
        headers=env.as_("curator"),
    )


@pytest.mark.parametrize("content_id", [{"a": 1}, ["poster-1"], True, 1.5, [None]])
def test_metadata_content_id_must_be_a_string(env: Env, content_id: object) -> None:
    make_bank(env)
    r = add_file(env, {"content_id": content_id})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "metadata content_id should be a string"
    assert entry_count(env.store) == 0


@pytest.mark.parametrize(("content_id", "label"), [("poster-1", "poster-1"), (12, "12"), (None, None)])
def test_metadata_content_id_string_or_integer_is_the_label(
    env: Env, content_id: object, label: str | None
) -> None:
    make_bank(env)
    r = add_file(env, {"content_id": content_id})
    assert r.status_code == 200, r.text
    with env.store.session() as s:
        assert s.scalars(select(BankEntryRow.label)).all() == [label]


# ---- 1d: NUL and control characters --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x\u0000y", "x\ny", "tab\there", "bell\u0007", "del\u007f", "c1\u0085"])
def test_bank_name_with_control_characters_is_refused(env: Env, name: str) -> None:
    r = env.client.post(f"{H}/c/banks", json={"name": name}, headers=env.as_("curator"))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "bank name must not contain control characters"
    with env.store.session() as s:
        assert s.scalar(select(func.count()).select_from(BankRow)) == 0


def test_bank_name_too_long_is_refused(env: Env) -> None:
    r = env.client.post(f"{H}/c/banks", json={"name": "B" * 201}, headers=env.as_("curator"))
    assert r.status_code == 400, r.text
    make_bank(env, "B" * 200)


def test_bank_routes_with_nul_in_the_name_are_400(env: Env) -> None:
    make_bank(env)
    c, cur = env.client, env.as_("curator")
    message = "bank name must not contain NUL characters (\\u0000)"
    for method, path, body in [
        ("GET", "/c/bank/x%00y", None),
        ("PUT", "/c/bank/x%00y", {"description": "d"}),
        ("DELETE", "/c/bank/x%00y", None),
        ("POST", "/c/bank/x%00y/signal", {"pdq": PDQ}),
        ("GET", "/c/bank/x%00y/content/1", None),
        ("DELETE", "/c/bank/x%00y/content/1", None),
    ]:
        r = c.request(method, f"{H}{path}", json=body, headers=cur)
        assert r.status_code == 400, (method, path, r.text)
        assert r.json()["message"] == message
    assert c.get(f"{H}/c/bank/TEST_BANK", headers=cur).status_code == 200


def test_nul_in_signals_metadata_note_and_description_is_400(env: Env) -> None:
    make_bank(env)
    c, cur = env.client, env.as_("curator")
    cases = [
        ({"raw_text": "a stand-in\u0000 sentence to bank"}, "raw_text signal"),
        ({"url": "https://example.org/a\u0000b"}, "url signal"),
        ({"pdq": PDQ, "note": "note\u0000"}, "note"),
    ]
    for body, what in cases:
        r = c.post(f"{H}/c/bank/TEST_BANK/signal", json=body, headers=cur)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["message"] == f"{what} must not contain NUL characters (\\u0000)"
    for metadata in ({"content_id": "poster\u00001"}, {"json": {"k": ["v\u0000"]}}, {"k\u0000": "v"}):
        r = add_file(env, metadata)
        assert r.status_code == 400, r.text
        assert r.json()["message"] == "metadata must not contain NUL characters (\\u0000)"
    r = c.put(f"{H}/c/bank/TEST_BANK", json={"description": "d\u0000"}, headers=cur)
    assert r.status_code == 400, r.text
    r = c.post(f"{H}/c/banks", json={"name": "OTHER", "description": "d\u0000"}, headers=cur)
    assert r.status_code == 400, r.text
    assert entry_count(env.store) == 0
    # the same texts without NUL go in
    assert bank_signal(env, {"raw_text": "a stand-in sentence to bank", "note": "fine"}) > 0


# ---- 2: concurrent adds of the same signal -------------------------------------------------------------

THREADS = 8
ROUNDS = 5


def race(stores: list[Store], add: Callable[[int, Store], tuple[int, int]]) -> list[tuple[int, int]]:
    """add(index, store) in one thread per store, all let go at once; the results (errors fail the test)."""
    barrier = threading.Barrier(len(stores))
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run(index: int, store: Store) -> None:
        try:
            barrier.wait()
            results.append(add(index, store))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, store)) for i, store in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def added_rows(store: Store) -> tuple[list[int], list[int | None]]:
    """The bank's entry ids, and the entry ids of its change-log `add` rows."""
    with store.session() as s:
        ids = list(s.scalars(select(BankEntryRow.id).order_by(BankEntryRow.id)).all())
        logged = s.scalars(
            select(BankChangeRow.entry_id).where(BankChangeRow.bank == "RACE", BankChangeRow.op == OP_ADD)
        ).all()
    return ids, sorted(logged, key=lambda i: i or 0)


def test_concurrent_adds_of_the_same_signal(env: Env) -> None:
    """Every thread adds the same hash on its own Store (engine), at once: one adds it, the others find it;
    no IntegrityError, one entry and one change-log `add` row per hash."""
    env.store.create_bank("RACE")
    stores = [Store.open(env.url) for _ in range(THREADS)]
    try:
        for round_ in range(ROUNDS):
            entry = NewEntry(SignalType.PDQ, f"{round_:064x}", origin="api")
            results = race(stores, lambda _i, store, e=entry: store.add_entries("RACE", [e], source="api:t"))
            assert sorted(results) == [(0, 1)] * (THREADS - 1) + [(1, 0)]
    finally:
        for store in stores:
            store.close()
    with env.store.session() as s:
        values = s.scalars(select(BankEntryRow.value).order_by(BankEntryRow.value)).all()
    assert values == [f"{r:064x}" for r in range(ROUNDS)]
    ids, logged = added_rows(env.store)
    assert logged == ids


def test_concurrent_adds_of_overlapping_lists(env: Env) -> None:
    """Threads adding lists that share some hashes: each hash goes in once, with one `add` row."""
    env.store.create_bank("RACE")
    stores = [Store.open(env.url) for _ in range(THREADS)]

    def add(index: int, store: Store) -> tuple[int, int]:
        # a hash of its own, and two shared with every other thread
        values = [f"{1000 + index:064x}", f"{1:064x}", f"{2:064x}"]
        return store.add_entries("RACE", [NewEntry(SignalType.PDQ, v) for v in values])

    try:
        results = race(stores, add)
    finally:
        for store in stores:
            store.close()
    assert sum(a for a, _ in results) == THREADS + 2
    assert sum(e for _, e in results) == 2 * THREADS - 2
    ids, logged = added_rows(env.store)
    assert len(ids) == THREADS + 2
    assert logged == ids

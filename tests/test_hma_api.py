"""The HMA-compatible match API (/api/hma): HMA's request parameters and response shapes, roles, and
curation changes visible to the next lookup."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from posbon.review.accounts import create_api_key
from posbon.settings import Settings
from posbon.store import Store
from posbon.web import create_app
from review_helpers import cli_app

ROLES = ("matcher", "curator", "admin", "reviewer", "viewer")
H = "/api/hma"


@dataclass
class Env:
    client: TestClient
    keys: dict[str, str]
    store: Store

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    keys = {role: create_api_key(store, f"{role}-key", role) for role in ROLES}
    return Env(TestClient(create_app(settings)), keys, store)


def png(seed: int) -> bytes:
    """A made-up picture (blocks of seeded noise): different seeds give far-apart PDQ hashes."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(np.kron(blocks, np.ones((32, 32, 1), dtype=np.uint8)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def flip_bits(pdq: str, n: int) -> str:
    value = int(pdq, 16)
    for bit in range(n):
        value ^= 1 << (bit * 7)
    return f"{value:064x}"


PDQ = "f" * 16 + "0" * 16 + "a5" * 16


def make_bank(env: Env, name: str = "TEST_BANK", role: str = "curator") -> None:
    r = env.client.post(f"{H}/c/banks", json={"name": name}, headers=env.as_(role))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name and r.json()["matching_enabled_ratio"] == 1.0


def bank_signal(env: Env, bank: str, pdq: str) -> int:
    r = env.client.post(f"{H}/c/bank/{bank}/signal", json={"pdq": pdq}, headers=env.as_("curator"))
    assert r.status_code == 200, r.text
    assert r.json()["signals"] == {"pdq": pdq}
    return int(r.json()["id"])


ROUTES = [
    ("GET", "/m/lookup?signal_type=pdq&signal=" + PDQ),
    ("POST", "/m/lookup"),
    ("GET", "/m/raw_lookup?signal_type=pdq&signal=" + PDQ),
    ("POST", "/m/compare"),
    ("GET", "/m/index/status"),
    ("GET", "/h/hash?url=https://example.org/a.png"),
    ("POST", "/h/hash"),
    ("GET", "/c/banks"),
    ("POST", "/c/banks"),
    ("GET", "/c/bank/X"),
    ("PUT", "/c/bank/X"),
    ("DELETE", "/c/bank/X"),
    ("POST", "/c/bank/X/content"),
    ("POST", "/c/bank/X/signal"),
    ("GET", "/c/bank/X/content/1"),
    ("PUT", "/c/bank/X/content/1"),
    ("DELETE", "/c/bank/X/content/1"),
    ("GET", "/c/signal_type"),
    ("GET", "/c/signal_type/index"),
    ("GET", "/c/content_type"),
]
CURATION_WRITES = {(m, p) for m, p in ROUTES if p.startswith("/c/") and m != "GET"}


def test_every_route_needs_a_key_and_the_right_role(env: Env) -> None:
    c = env.client
    alive = c.get(H + "/status")  # the one route without a key
    assert alive.status_code == 200 and alive.text == "I-AM-ALIVE"
    for method, path in ROUTES:
        r = c.request(method, H + path, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
        r = c.request(method, H + path, json={}, headers={"Authorization": "Bearer pbk_wrong"})
        assert r.status_code == 401, (method, path)
    for method, path in ROUTES:
        for role in ROLES:
            r = c.request(method, H + path, json={}, headers=env.as_(role))
            curation = path.startswith("/c/")
            refused = (role == "matcher" and curation) or (
                role in ("viewer", "reviewer") and (method, path) in CURATION_WRITES
            )
            where = (role, method, path, r.status_code, r.text[:100])
            assert (r.status_code == 403) is refused, where
    # a matcher key reaches no review route
    assert c.get("/api/v1/queue", headers=env.as_("matcher")).status_code == 403


def test_apikey_cli_makes_service_role_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBON_DATA_DIR", str(tmp_path / "data"))
    for role in ("matcher", "curator", "admin"):
        result = CliRunner().invoke(cli_app(), ["apikey", "create", f"k-{role}", "--role", role])
        assert result.exit_code == 0, result.output
        assert "pbk_" in result.output
    result = CliRunner().invoke(cli_app(), ["apikey", "create", "k-bad", "--role", "superuser"])
    assert result.exit_code != 0


def test_lookup_shapes_and_string_distances(env: Env) -> None:
    c = env.client
    make_bank(env)
    make_bank(env, "OTHER_BANK", role="admin")
    first = bank_signal(env, "TEST_BANK", PDQ)
    other = bank_signal(env, "OTHER_BANK", flip_bits(PDQ, 3))
    m = env.as_("matcher")

    r = c.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=m)
    assert r.status_code == 200
    assert r.json() == {
        "TEST_BANK": [{"bank_content_id": first, "distance": "0"}],
        "OTHER_BANK": [{"bank_content_id": other, "distance": "3"}],
    }
    r = c.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ, "banks": "OTHER_BANK"}, headers=m)
    assert r.json() == {"OTHER_BANK": [{"bank_content_id": other, "distance": "3"}]}
    far = c.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": flip_bits(PDQ, 36)}, headers=m)
    assert far.json() == {}

    r = c.get(f"{H}/m/raw_lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=m)
    assert sorted(r.json()["matches"]) == sorted([first, other])
    r = c.get(
        f"{H}/m/raw_lookup",
        params={"signal_type": "pdq", "signal": PDQ, "include_distance": "true", "banks": "TEST_BANK"},
        headers=m,
    )
    assert r.json() == {"matches": [{"bank_content_id": first, "distance": "0"}]}

    bad = c.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": "xyz"}, headers=m)
    assert bad.status_code == 400 and "64 hex" in bad.json()["message"]
    bad = c.get(f"{H}/m/lookup", params={"signal_type": "tmk", "signal": PDQ}, headers=m)
    assert bad.status_code == 400 and "No such SignalType 'tmk'" in bad.json()["message"]
    bad = c.get(f"{H}/m/lookup", params={"signal_type": "pdq"}, headers=m)
    assert bad.status_code == 400 and "required" in bad.json()["message"]
    nofetch = c.get(f"{H}/m/lookup", params={"url": "http://169.254.169.254/"}, headers=m)
    assert nofetch.status_code == 400 and "does not fetch" in nofetch.json()["message"]

    status = c.get(f"{H}/m/index/status", headers=m).json()
    assert status["pdq"]["present"] is True and status["pdq"]["size"] == 2
    assert isinstance(status["pdq"]["built_to"], int)
    assert isinstance(status["pdq"]["version"], int) and status["pdq"]["age"] >= 0
    assert c.get(f"{H}/m/index/status?signal_type=pdq", headers=m).json().keys() == {"pdq"}
    assert c.get(f"{H}/m/index/status?signal_type=nope", headers=m).status_code == 400

    r = c.get(f"{H}/status", headers=m)
    assert r.status_code == 200 and r.text == "I-AM-ALIVE"


def test_compare(env: Env) -> None:
    m = env.as_("matcher")
    r = env.client.post(f"{H}/m/compare", json={"pdq": [PDQ, flip_bits(PDQ, 9)]}, headers=m)
    assert r.status_code == 200 and r.json() == {"pdq": [True, {"distance": 9}]}
    r = env.client.post(f"{H}/m/compare", json={"pdq": [PDQ, flip_bits(PDQ, 36)]}, headers=m)
    assert r.json() == {"pdq": [False, {"distance": 36}]}
    r = env.client.post(f"{H}/m/compare", json={"video_md5": ["a" * 32, "a" * 32]}, headers=m)
    assert r.json() == {"video_md5": [True, {}]}
    assert env.client.post(f"{H}/m/compare", json={"pdq": [PDQ]}, headers=m).status_code == 400
    assert env.client.post(f"{H}/m/compare", json=[1], headers=m).status_code == 400


def test_upload_hash_bank_and_lookup_by_file(env: Env) -> None:
    c = env.client
    photo = png(1)
    r = c.post(f"{H}/h/hash", files={"photo": ("p.png", photo, "image/png")}, headers=env.as_("matcher"))
    assert r.status_code == 200 and set(r.json()) == {"pdq"} and len(r.json()["pdq"]) == 64
    pdq = r.json()["pdq"]
    video = c.post(
        f"{H}/h/hash", files={"video": ("v.mp4", b"\0" * 100, "video/mp4")}, headers=env.as_("matcher")
    )
    assert set(video.json()) == {"video_md5"}
    assert (
        c.post(f"{H}/h/hash", files={"gif": ("p.gif", photo)}, headers=env.as_("matcher")).status_code == 400
    )
    two = {"photo": ("a.png", photo), "video": ("b.mp4", b"x")}
    assert c.post(f"{H}/h/hash", files=two, headers=env.as_("matcher")).status_code == 400
    assert (
        c.get(
            f"{H}/h/hash", params={"url": "https://example.org/p.png"}, headers=env.as_("matcher")
        ).status_code
        == 400
    )

    make_bank(env)
    r = c.post(
        f"{H}/c/bank/TEST_BANK/content",
        files={"photo": ("p.png", photo, "image/png")},
        data={"metadata": '{"content_id": "poster-1"}', "note": "stand-in poster"},
        headers=env.as_("curator"),
    )
    assert r.status_code == 200, r.text
    content_id = r.json()["id"]
    assert r.json()["signals"] == {"pdq": pdq}

    r = c.post(f"{H}/m/lookup", files={"photo": ("q.png", photo, "image/png")}, headers=env.as_("matcher"))
    assert r.status_code == 200
    assert r.json() == {"pdq": {"TEST_BANK": [{"bank_content_id": content_id, "distance": "0"}]}}
    other = c.post(f"{H}/m/lookup", files={"photo": ("o.png", png(2))}, headers=env.as_("matcher"))
    assert other.json() == {"pdq": {}}

    got = c.get(f"{H}/c/bank/TEST_BANK/content/{content_id}?include_signals=true", headers=env.as_("viewer"))
    body = got.json()
    assert body["id"] == content_id and body["disable_until_ts"] == 1
    assert body["bank"] == {"name": "TEST_BANK", "matching_enabled_ratio": 1.0}
    assert body["signals"] == {"pdq": pdq}
    assert body["metadata"] == {"content_id": "poster-1"} and body["note"] == "stand-in poster"


def test_curation_changes_are_visible_to_the_next_lookup(env: Env) -> None:
    c = env.client
    m = env.as_("matcher")
    cur = env.as_("curator")

    def lookup() -> dict[str, object]:
        r = c.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=m)
        assert r.status_code == 200
        result: dict[str, object] = r.json()
        return result

    assert lookup() == {}
    make_bank(env)
    assert c.post(f"{H}/c/banks", json={"name": "TEST_BANK"}, headers=cur).status_code == 403  # exists
    content_id = bank_signal(env, "TEST_BANK", PDQ)
    assert lookup() == {"TEST_BANK": [{"bank_content_id": content_id, "distance": "0"}]}

    r = c.put(f"{H}/c/bank/TEST_BANK/content/{content_id}", json={"disable_until_ts": 0}, headers=cur)
    assert r.status_code == 200 and r.json()["disable_until_ts"] == 0
    assert lookup() == {}
    c.put(f"{H}/c/bank/TEST_BANK/content/{content_id}", json={"disable_until_ts": 1}, headers=cur)
    assert lookup() == {"TEST_BANK": [{"bank_content_id": content_id, "distance": "0"}]}

    # posbon's own bank controls through the same route: a bank threshold of 0 keeps only exact hits
    again = bank_signal(env, "TEST_BANK", flip_bits(PDQ, 2))
    assert len(lookup()["TEST_BANK"]) == 2  # type: ignore[arg-type]
    r = c.put(f"{H}/c/bank/TEST_BANK", json={"pdq_threshold": 0}, headers=cur)
    assert r.status_code == 200 and r.json()["pdq_threshold"] == 0
    assert lookup() == {"TEST_BANK": [{"bank_content_id": content_id, "distance": "0"}]}
    assert c.put(f"{H}/c/bank/TEST_BANK", json={"name": "RENAMED"}, headers=cur).status_code == 400
    assert c.put(f"{H}/c/bank/TEST_BANK", json={"enabled_ratio": 0.5}, headers=cur).status_code == 400

    r = c.delete(f"{H}/c/bank/TEST_BANK/content/{content_id}", headers=cur)
    assert r.json() == {"deleted": 1}
    assert c.get(f"{H}/c/bank/TEST_BANK/content/{content_id}", headers=cur).status_code == 404
    assert lookup() == {}
    c.put(f"{H}/c/bank/TEST_BANK", json={"pdq_threshold": None}, headers=cur)
    assert lookup() == {"TEST_BANK": [{"bank_content_id": again, "distance": "2"}]}

    assert [b["name"] for b in c.get(f"{H}/c/banks", headers=cur).json()] == ["TEST_BANK"]
    assert c.delete(f"{H}/c/bank/TEST_BANK", headers=cur).json() == {"message": "Done"}
    assert c.get(f"{H}/c/bank/TEST_BANK", headers=cur).status_code == 404
    assert c.get(f"{H}/c/banks", headers=cur).json() == []
    assert lookup() == {}


def test_changes_made_elsewhere_are_picked_up_by_polling(env: Env) -> None:
    from posbon.domain import SignalType
    from posbon.match.banklist import NewEntry

    m = env.as_("matcher")
    assert (
        env.client.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=m).json() == {}
    )
    env.store.create_bank("CLI_BANK")
    env.store.add_entries("CLI_BANK", [NewEntry(SignalType.PDQ, PDQ)])
    service = env.client.app.state.match_service  # type: ignore[attr-defined]
    service._next_poll = 0.0  # as if poll_seconds had passed
    r = env.client.get(f"{H}/m/lookup", params={"signal_type": "pdq", "signal": PDQ}, headers=m)
    assert list(r.json()) == ["CLI_BANK"]


def test_signal_and_content_types(env: Env) -> None:
    v = env.as_("viewer")
    names = {t["name"] for t in env.client.get(f"{H}/c/signal_type", headers=v).json()}
    assert {"pdq", "video_md5"} <= names
    assert env.client.get(f"{H}/c/content_type", headers=v).json() == [
        {"name": "photo", "enabled": True},
        {"name": "video", "enabled": True},
    ]
    index = env.client.get(f"{H}/c/signal_type/index", headers=v).json()
    assert index["pdq"]["db_size"] == 0 and index["pdq"]["index_out_of_date"] is False

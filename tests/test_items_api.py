"""POST /api/v1/items (assess a post at upload time, idempotently) and POST /api/v1/lookup/batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posbon.review.accounts import create_api_key
from posbon.settings import Settings
from posbon.store import Store
from posbon.web import create_app
from test_hma_api import PDQ, Env, flip_bits, png

H = "/api/hma"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    keys = {role: create_api_key(store, f"{role}-key", role) for role in ("matcher", "curator", "viewer")}
    client = TestClient(create_app(settings))
    e = Env(client, keys, store)
    assert client.post(f"{H}/c/banks", json={"name": "POSTERS"}, headers=e.as_("curator")).status_code == 201
    r = client.post(
        f"{H}/c/bank/POSTERS/content",
        files={"photo": ("p.png", png(7), "image/png")},
        headers=e.as_("curator"),
    )
    assert r.status_code == 200
    return e


def test_a_text_post_is_assessed_and_not_stored(env: Env) -> None:
    r = env.client.post(
        "/api/v1/items",
        json={
            "external_id": "42",
            "source": "forum",
            "text": "Lunch at the riverside cafe was lovely today.",
        },
        headers=env.as_("matcher"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "clear" and body["stored"] is False and body["queued"] is False
    assert set(body) >= {"item_id", "risk", "evidence", "language", "problems"}
    assert env.store.count_items() == 0


def test_an_uploaded_banked_image_matches_and_is_queued_once(env: Env) -> None:
    headers = {**env.as_("matcher"), "Idempotency-Key": "upload-1"}
    form = {"external_id": "7", "source": "forum", "text": "look", "enqueue_for_review": "true"}
    files = {"media": ("poster.png", png(7), "image/png")}
    r = env.client.post("/api/v1/items", data=form, files=files, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "match" and body["stored"] is True and body["queued"] is True
    hits = [e for e in body["evidence"] if e["kind"] == "bank_match"]
    assert hits and hits[0]["bank"] == "POSTERS" and hits[0]["distance"] == 0
    assert env.store.count_items() == 1
    (stored,) = env.store.items()
    assert Path(stored.media[0]["path"]).is_file()  # kept for the reviewer

    again = env.client.post("/api/v1/items", data=form, files=files, headers=headers)
    assert again.status_code == 200 and again.json() == body
    assert again.headers["idempotent-replayed"] == "true"
    scans = env.store.engine.connect().exec_driver_sql("SELECT count(*) FROM scans").scalar()
    assert scans == 1  # the retry stored nothing

    changed = env.client.post("/api/v1/items", data={**form, "text": "other"}, files=files, headers=headers)
    assert changed.status_code == 422


def test_media_urls_are_not_fetched_and_bad_input_is_refused(env: Env) -> None:
    m = env.as_("matcher")
    r = env.client.post(
        "/api/v1/items",
        json={"external_id": "8", "text": "hello", "media_urls": ["http://169.254.169.254/latest"]},
        headers=m,
    )
    assert r.status_code == 200
    assert any("not fetched" in p for p in r.json()["problems"])
    assert env.client.post("/api/v1/items", json={"text": "no id"}, headers=m).status_code == 422
    assert env.client.post("/api/v1/items", json=[1], headers=m).status_code == 422
    broken = env.client.post(
        "/api/v1/items", data={"external_id": "9"}, files={"media": ("x.png", b"not a png")}, headers=m
    )
    assert broken.status_code == 200 and any("x.png" in p for p in broken.json()["problems"])
    assert env.client.post("/api/v1/items", json={"external_id": "1"}).status_code == 401
    assert (
        env.client.post("/api/v1/items", json={"external_id": "1"}, headers=env.as_("viewer")).status_code
        == 403
    )


def test_batch_lookup(env: Env) -> None:
    m = env.as_("matcher")
    pdq = env.client.post(f"{H}/h/hash", files={"photo": ("p.png", png(7))}, headers=m).json()["pdq"]
    signals = [
        {"signal_type": "pdq", "signal": pdq},
        {"signal_type": "pdq", "signal": PDQ},
        {"signal_type": "pdq", "signal": "zz"},
        {"signal_type": "pdq", "signal": flip_bits(pdq, 4)},
    ]
    r = env.client.post("/api/v1/lookup/batch", json={"signals": signals}, headers=m)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 4
    assert [hit["distance"] for hit in results[0]["matches"]["POSTERS"]] == ["0"]
    assert results[1]["matches"] == {} and results[1]["error"] is None
    assert "64 hex" in results[2]["error"]
    assert results[3]["matches"]["POSTERS"][0]["distance"] == "4"
    r = env.client.post("/api/v1/lookup/batch", json={"signals": signals, "banks": ["OTHER"]}, headers=m)
    assert all(res["matches"] == {} for res in r.json()["results"])

    many = [{"signal_type": "pdq", "signal": PDQ}] * 1000
    assert (
        len(env.client.post("/api/v1/lookup/batch", json={"signals": many}, headers=m).json()["results"])
        == 1000
    )
    too_many = many + many[:1]
    assert env.client.post("/api/v1/lookup/batch", json={"signals": too_many}, headers=m).status_code == 422
    assert env.client.post("/api/v1/lookup/batch", json={"signals": []}).status_code == 401

"""Hostile input on the platform API (/api/v1 notices, orders, threat flags, webhook retries) is refused
with a 422 that names the field, never a 500: out-of-range ids, NUL characters (PostgreSQL text cannot
hold them), lone surrogates (not encodable as UTF-8) and a good-faith statement that is not JSON true.
Runs on SQLite and, with POSBON_TEST_PG=1, on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from posbon.platform.partners import add_partner
from test_web_support import build, client

GOOD = {
    "url": "https://platform.example/p/42",
    "explanation": "The post calls readers to join an armed group (benign stand-in text).",
    "notifier_name": "Dilnoza Example",
    "notifier_email": "dilnoza@example.org",
    "good_faith": True,
    "category": "terrorist_content",
}
ORDER = {
    "kind": "removal_order",
    "item_id": "item0002",
    "url": "https://platform.example/p/2",
    "reference": "RO-2026-1",
    "threat_note": "stand-in note",
}
HUGE = "99999999999999999999"  # beyond a 64-bit row id


def _fields(response: Any) -> set[str]:
    return {str(e["loc"][-1]) for e in response.json()["detail"]}


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_out_of_range_ids_in_paths_are_refused_with_422(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    r = c.get(f"/api/v1/notices/{HUGE}", headers=_h(fx.keys["viewer"]))
    assert r.status_code == 422 and _fields(r) == {"notice_id"}
    r = c.post(f"/api/v1/webhooks/deliveries/{HUGE}/retry", headers=_h(fx.keys["admin"]))
    assert r.status_code == 422 and _fields(r) == {"delivery_id"}
    r = c.post(
        f"/api/v1/decisions/{HUGE}/threat-to-life", json={"note": "n"}, headers=_h(fx.keys["reviewer"])
    )
    assert r.status_code == 422 and _fields(r) == {"decision_id"}
    r = c.get("/api/v1/notices/-1", headers=_h(fx.keys["viewer"]))
    assert r.status_code == 422 and _fields(r) == {"notice_id"}
    # an id in range that does not exist is still a 404
    assert c.get("/api/v1/notices/12345", headers=_h(fx.keys["viewer"])).status_code == 404
    assert c.post("/api/v1/webhooks/deliveries/12345/retry", headers=_h(fx.keys["admin"])).status_code == 404


def test_nul_characters_in_any_string_field_are_refused_naming_the_field(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    platform = _h(fx.keys["viewer"])
    for field in ("item_id", "url", "explanation", "notifier_name", "notifier_email", "category"):
        r = c.post("/api/v1/notices", json={**GOOD, field: "a\u0000b"}, headers=platform)
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert _fields(r) == {field}
    authority = _h(add_partner(fx.store, "Example Competent Authority", "competent_authority"))
    for field in ("kind", "reference", "item_id", "url", "threat_note"):
        r = c.post("/api/v1/orders", json={**ORDER, field: "a\u0000b"}, headers=authority)
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert _fields(r) == {field}
    reviewer = _h(fx.keys["reviewer"])
    decision = c.post(
        "/api/v1/items/item0001/decisions", json={"action": "label", "reason": "r"}, headers=reviewer
    )
    r = c.post(
        f"/api/v1/decisions/{decision.json()['id']}/threat-to-life",
        json={"note": "a\u0000b"},
        headers=reviewer,
    )
    assert r.status_code == 422 and _fields(r) == {"note"}
    # nothing was stored, and clean input still goes in
    assert c.post("/api/v1/notices", json=GOOD, headers=platform).status_code == 201
    assert c.post("/api/v1/orders", json=ORDER, headers=authority).status_code == 201


def test_a_lone_surrogate_gives_an_encodable_422(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    platform = _h(fx.keys["viewer"])
    # another field is invalid, so the 422 echoes the whole body, surrogate included
    body = '{"notifier_name": "\\ud800", "explanation": "stand-in", "good_faith": "maybe"}'
    r = c.post("/api/v1/notices", content=body, headers={**platform, "Content-Type": "application/json"})
    assert r.status_code == 422 and "good_faith" in _fields(r)
    # the surrogate field alone: refused, naming it (it could not be stored either)
    for field in ("item_id", "url", "explanation", "notifier_name", "notifier_email", "category"):
        body = json.dumps({**GOOD, field: "a\ud800b"})  # ensure_ascii: the surrogate goes as \ud800
        r = c.post("/api/v1/notices", content=body, headers={**platform, "Content-Type": "application/json"})
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert _fields(r) == {field}
    # in a key: an unknown field of an order, named in the answer
    authority = _h(add_partner(fx.store, "Example Competent Authority", "competent_authority"))
    body = '{"kind": "referral", "reference": "R-1", "item_id": "item0002", "\\udfff": 1}'
    r = c.post("/api/v1/orders", content=body, headers={**authority, "Content-Type": "application/json"})
    assert r.status_code == 422 and len(_fields(r)) == 1
    for field in ("reference", "item_id", "url", "threat_note"):
        body = json.dumps({**ORDER, field: "a\ud800b"})
        r = c.post("/api/v1/orders", content=body, headers={**authority, "Content-Type": "application/json"})
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert _fields(r) == {field}
    # every route, not only the platform ones: here the review API's decisions
    reviewer = _h(fx.keys["reviewer"])
    body = '{"action": "\\ud800", "reason": "r"}'
    r = c.post(
        "/api/v1/items/item0001/decisions",
        content=body,
        headers={**reviewer, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and _fields(r) == {"action"}


def test_good_faith_must_be_the_json_boolean_true(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    platform = _h(fx.keys["viewer"])
    for value in ("yes", "true", 1, "1", False, None):
        r = c.post("/api/v1/notices", json={**GOOD, "good_faith": value}, headers=platform)
        assert r.status_code == 422, (value, r.status_code, r.text)
        assert _fields(r) == {"good_faith"}, value
    assert c.post("/api/v1/notices", json=GOOD, headers=platform).status_code == 201

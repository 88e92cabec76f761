"""The JSON API: queue, item, decisions, appeals (another reviewer resolves), orders, overdue orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_web_support import build, client, login


def test_api_flow_and_schema(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    viewer = {"Authorization": f"Bearer {fx.keys['viewer']}"}
    queue = c.get("/api/v1/queue", headers=viewer).json()
    assert [e["item_id"] for e in queue] == ["item0001", "item0002", "item0003"]
    item = c.get("/api/v1/items/item0001", headers=viewer).json()
    assert item["evidence"][0]["bank"] == "lantern-bank" and item["media"][0]["url"].endswith("/media/0")

    csrf = login(c, "rita")
    h = {"X-CSRF-Token": csrf}
    r = c.post("/api/v1/items/item0001/decisions", json={"action": "label", "reason": "stand-in"}, headers=h)
    assert r.status_code == 201, r.text
    decision = r.json()
    assert (
        decision["reviewer"] == "rita" and decision["policy_version"] >= 1 and decision["status"] == "final"
    )
    again = c.post("/api/v1/items/item0001/decisions", json={"action": "remove", "reason": "x"}, headers=h)
    assert again.status_code == 409 and "appeal" in again.json()["detail"]

    r = c.post(
        f"/api/v1/decisions/{decision['id']}/appeals", json={"complaint": "please re-check"}, headers=h
    )
    assert r.status_code == 201 and r.json()["status"] == "open"
    appeal_id = r.json()["id"]
    own = c.post(f"/api/v1/appeals/{appeal_id}/resolution", json={"upheld": False, "reason": "x"}, headers=h)
    assert own.status_code == 409  # the reviewer who decided may not resolve the appeal

    other = client(fx)
    h2 = {"X-CSRF-Token": login(other, "ravi")}
    r = other.post(
        f"/api/v1/appeals/{appeal_id}/resolution", json={"upheld": False, "reason": "news"}, headers=h2
    )
    assert r.status_code == 200 and r.json()["status"] == "reversed"

    late = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    r = c.post(
        "/api/v1/items/item0002/orders",
        json={"authority": "A", "reference": "R1", "received_at": late},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["overdue"] is True
    r = c.post("/api/v1/items/item0003/orders", json={"authority": "A", "reference": "R2"}, headers=h)
    assert r.json()["overdue"] is False
    assert {o["reference"] for o in c.get("/api/v1/orders?overdue=1", headers=viewer).json()} == {"R1"}
    assert len(c.get("/api/v1/orders", headers=viewer).json()) == 2
    # orders jump the queue
    assert c.get("/api/v1/queue", headers=viewer).json()[0]["item_id"] == "item0002"

    schema = c.get("/openapi.json").json()
    post = schema["paths"]["/api/v1/items/{item_id}/decisions"]["post"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/DecisionOut")
    assert "DecisionIn" in schema["components"]["schemas"]


def test_a_platform_decides_through_a_reviewer_api_key(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    machine = {"Authorization": f"Bearer {fx.keys['reviewer']}"}
    r = c.post(
        "/api/v1/items/item0003/decisions",
        json={"action": "label", "reason": "platform rule"},
        headers=machine,
    )
    assert r.status_code == 201, r.text
    assert r.json()["reviewer"] == "key:reviewer-key"
    viewer = {"Authorization": f"Bearer {fx.keys['viewer']}"}
    r = c.post("/api/v1/items/item0002/decisions", json={"action": "label", "reason": "x"}, headers=viewer)
    assert r.status_code == 403

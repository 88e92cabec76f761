"""Notices (DSA Art. 16), trusted flaggers (Art. 22), authority orders and referrals with partner keys,
Art. 14(5) threat notifications, notifier outcomes and the erasure of notifier contact data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from posbon.platform.partners import add_partner
from posbon.store.platform_models import NoticeRow, WebhookEventRow
from posbon.store.review_models import DecisionRow
from test_web_support import build, client

GOOD = {
    "url": "https://platform.example/p/42",
    "explanation": "The post calls readers to join an armed group (benign stand-in text).",
    "notifier_name": "Dilnoza Example",
    "notifier_email": "dilnoza@example.org",
    "good_faith": True,
}


def _fields(response: Any) -> set[str]:
    return {str(e["loc"][-1]) for e in response.json()["detail"]}


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_notice_validation_names_the_fields(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    platform = _h(fx.keys["viewer"])
    r = c.post("/api/v1/notices", json={**GOOD, "good_faith": False}, headers=platform)
    assert r.status_code == 422 and _fields(r) == {"good_faith"}
    no_statement = {k: v for k, v in GOOD.items() if k != "good_faith"}
    r = c.post("/api/v1/notices", json=no_statement, headers=platform)
    assert r.status_code == 422 and "good_faith" in _fields(r)
    anonymous = {k: v for k, v in GOOD.items() if not k.startswith("notifier_")}
    r = c.post("/api/v1/notices", json=anonymous, headers=platform)
    assert r.status_code == 422 and _fields(r) == {"notifier_name", "notifier_email"}
    r = c.post("/api/v1/notices", json={**anonymous, "csam_exemption": True}, headers=platform)
    assert r.status_code == 201, r.text  # the exemption of Art. 16(2)(c)
    r = c.post("/api/v1/notices", json={**GOOD, "url": None, "notifier_email": "nope"}, headers=platform)
    assert r.status_code == 422 and _fields(r) == {"url", "notifier_email"}
    # an unknown item_id is refused only without a url (test_a_notice_with_an_unknown_item_id_falls_back...)
    assert c.post("/api/v1/notices", json=GOOD).status_code == 401


def test_notice_routing_outcome_and_contact_erasure(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    platform = _h(fx.keys["viewer"])
    r = c.post("/api/v1/notices", json=GOOD, headers=platform)  # a URL posbon does not hold
    assert r.status_code == 201
    receipt = r.json()
    assert receipt["status"] == "open" and receipt["item_id"] is None and receipt["received_at"]
    r = c.post("/api/v1/notices", json={**GOOD, "item_id": "item0003"}, headers=platform)
    held = r.json()
    assert held["status"] == "queued" and held["item_id"] == "item0003"
    queue = {e["item_id"]: e for e in c.get("/api/v1/queue", headers=platform).json()}
    assert queue["item0003"]["reason"] == "notice"

    # another platform key may not read this notice; the sender and reviewers may
    assert c.get(f"/api/v1/notices/{held['id']}", headers=_h(fx.keys["admin"])).status_code == 200
    other = add_partner(fx.store, "flagger-x", "trusted_flagger")
    assert c.get(f"/api/v1/notices/{held['id']}", headers=_h(other)).status_code == 404

    reviewer = _h(fx.keys["reviewer"])
    r = c.post("/api/v1/items/item0003/decisions", json={"action": "label", "reason": "r1"}, headers=reviewer)
    assert r.status_code == 201, r.text
    status = c.get(f"/api/v1/notices/{held['id']}", headers=platform).json()
    assert status["status"] == "decided" and "label" in status["outcome"]
    with fx.store.session() as s:
        decision = s.scalar(select(DecisionRow).where(DecisionRow.item_id == "item0003"))
        assert decision is not None and decision.source_type == "SOURCE_ARTICLE_16"  # for the SoR
    assert "notifier_email" not in status and "dilnoza" not in str(status).lower()
    with fx.store.session() as s:
        events = s.scalars(select(WebhookEventRow).where(WebhookEventRow.type == "notice.decided")).all()
        assert [e.payload["notice_id"] for e in events] == [held["id"]]
        assert "dilnoza" not in str([e.payload for e in s.scalars(select(WebhookEventRow)).all()]).lower()

    from posbon.platform.notices import purge_notice_contacts

    assert purge_notice_contacts(fx.store, now=datetime.now(UTC)) == 0  # still needed for a while
    assert purge_notice_contacts(fx.store, now=datetime.now(UTC) + timedelta(days=31)) == 1
    with fx.store.session() as s:
        rows = {n.id: n for n in s.scalars(select(NoticeRow)).all()}
    assert rows[held["id"]].notifier_email is None and rows[held["id"]].notifier_name is None
    assert rows[receipt["id"]].notifier_email == "dilnoza@example.org"  # undecided: kept


def test_trusted_flagger_notices_go_first(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    viewer = _h(fx.keys["viewer"])
    before = [e["item_id"] for e in c.get("/api/v1/queue", headers=viewer).json()]
    assert before == ["item0001", "item0002", "item0003"]
    r = c.post("/api/v1/notices", json={**GOOD, "item_id": "item0002"}, headers=viewer)
    assert r.json()["trusted"] is False
    flagger = add_partner(fx.store, "Example Trusted Flagger", "trusted_flagger")
    r = c.post("/api/v1/notices", json={**GOOD, "item_id": "item0003"}, headers=_h(flagger))
    assert r.status_code == 201 and r.json()["trusted"] is True
    after = c.get("/api/v1/queue", headers=viewer).json()
    assert [e["item_id"] for e in after] == ["item0003", "item0001", "item0002"]
    assert after[0]["reason"] == "notice"
    # a trusted flagger's key opens the intake routes only, never the queue
    assert c.get("/api/v1/queue", headers=_h(flagger)).status_code == 401


def test_orders_need_an_authority_key_and_take_the_issuer_from_it(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    authority = add_partner(fx.store, "Example Competent Authority", "competent_authority")
    iru = add_partner(fx.store, "Example IRU", "iru")
    order = {"kind": "removal_order", "item_id": "item0002", "reference": "RO-2026-7"}
    for role in ("viewer", "reviewer", "admin"):
        assert c.post("/api/v1/orders", json=order, headers=_h(fx.keys[role])).status_code == 403
    assert c.post("/api/v1/orders", json=order).status_code == 401
    assert c.post("/api/v1/orders", json=order, headers=_h("pbp_forged")).status_code == 401
    spoof = c.post("/api/v1/orders", json={**order, "authority": "Someone Else"}, headers=_h(authority))
    assert spoof.status_code == 422 and _fields(spoof) == {"authority"}
    assert c.post("/api/v1/orders", json=order, headers=_h(iru)).status_code == 403  # IRUs refer only

    r = c.post("/api/v1/orders", json=order, headers=_h(authority))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["authority"] == "Example Competent Authority" and body["removal_order_id"]
    deadline = datetime.fromisoformat(body["deadline"])
    assert timedelta(minutes=59) < deadline - datetime.now(UTC) <= timedelta(hours=1)
    orders = c.get("/api/v1/orders", headers=_h(fx.keys["viewer"])).json()
    assert [(o["authority"], o["reference"]) for o in orders] == [
        ("Example Competent Authority", "RO-2026-7")
    ]
    assert c.get("/api/v1/queue", headers=_h(fx.keys["viewer"])).json()[0]["item_id"] == "item0002"
    assert c.get("/api/v1/queue", headers=_h(authority)).status_code == 401

    referral = {"kind": "referral", "item_id": "item0003", "reference": "REF-1", "imminent_threat": True}
    r = c.post("/api/v1/orders", json=referral, headers=_h(iru))
    assert r.status_code == 201 and r.json()["removal_order_id"] is None
    assert r.json()["threat_notification_id"] is not None
    queue = {e["item_id"]: e["reason"] for e in c.get("/api/v1/queue", headers=_h(fx.keys["viewer"])).json()}
    assert queue["item0003"] == "referral"
    missing = c.post("/api/v1/orders", json={**referral, "item_id": "nope"}, headers=_h(iru))
    assert missing.status_code == 404
    with fx.store.session() as s:
        threat = s.scalars(select(WebhookEventRow).where(WebhookEventRow.type == "threat_to_life")).one()
    assert threat.payload["document"]["content"]["item_id"] == "item0003"


def test_a_reviewer_flags_a_threat_to_life_on_a_decision(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    reviewer = _h(fx.keys["reviewer"])
    r = c.post("/api/v1/items/item0001/decisions", json={"action": "label", "reason": "r"}, headers=reviewer)
    decision_id = r.json()["id"]
    note = {"note": "the stand-in post names a date and place"}
    assert (
        c.post(
            f"/api/v1/decisions/{decision_id}/threat-to-life", json=note, headers=_h(fx.keys["viewer"])
        ).status_code
        == 403
    )  # noqa: E501
    r = c.post(f"/api/v1/decisions/{decision_id}/threat-to-life", json=note, headers=reviewer)
    assert r.status_code == 201 and r.json()["decision_id"] == decision_id
    assert "14(5)" in r.json()["document"]["legal_basis"]


def test_a_notice_about_an_unheld_url_finds_the_post_once_it_is_scanned(tmp_path: Path) -> None:
    import json

    from posbon.platform.notices import NoticeIn, get_notice, submit_notice
    from posbon.scan import run_scan
    from posbon.settings import Settings
    from posbon.store import Store

    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    notice = submit_notice(
        store,
        NoticeIn(
            explanation="stand-in",
            good_faith=True,
            url="https://platform.example/p/77",
            notifier_name="N",
            notifier_email="n@example.org",
        ),
        submitted_by="platform",
    )
    assert get_notice(store, notice.id).item_id is None
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "77", "text": "a post", "url": "https://platform.example/p/77"}) + "\n"
    )
    summary = run_scan(store, settings, [posts], ocr=False)
    linked = get_notice(store, notice.id)
    assert linked.item_id == summary.item_ids[0] and linked.status == "queued"


def test_a_trusted_notice_keeps_its_place_when_the_item_is_rescanned(tmp_path: Path) -> None:
    from posbon.review.policies import active_policy
    from posbon.review.queue import sync_queue
    from posbon.review.session import now_utc
    from posbon.store.models import ItemRow

    fx = build(tmp_path)
    c = client(fx)
    viewer = _h(fx.keys["viewer"])
    flagger = add_partner(fx.store, "Example Trusted Flagger", "trusted_flagger")
    assert (
        c.post("/api/v1/notices", json={**GOOD, "item_id": "item0003"}, headers=_h(flagger)).status_code
        == 201
    )
    assert [e["item_id"] for e in c.get("/api/v1/queue", headers=viewer).json()][0] == "item0003"
    with fx.store.session() as s:  # a rescan: a new assessment, a little riskier than before
        item = s.get(ItemRow, "item0003")
        assert item is not None
        item.risk, item.assessed_at = 0.5, now_utc()
        s.commit()
    sync_queue(fx.store, active_policy(fx.store))
    after = [e["item_id"] for e in c.get("/api/v1/queue", headers=viewer).json()]
    assert after == ["item0003", "item0001", "item0002"]


def test_an_order_sent_twice_is_one_order_and_a_future_receipt_time_is_refused(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    authority = add_partner(fx.store, "Example Competent Authority", "competent_authority")
    order = {"kind": "removal_order", "item_id": "item0002", "reference": "RO-2026-9"}
    first = c.post("/api/v1/orders", json=order, headers=_h(authority))
    again = c.post("/api/v1/orders", json=order, headers=_h(authority))  # a retry after a timeout
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same request, order and deadline
    orders = c.get("/api/v1/orders", headers=_h(fx.keys["viewer"])).json()
    assert [o["reference"] for o in orders] == ["RO-2026-9"]
    # another reference is another order
    other = c.post("/api/v1/orders", json={**order, "reference": "RO-2026-10"}, headers=_h(authority))
    assert other.json()["removal_order_id"] != first.json()["removal_order_id"]
    # the clock runs from receipt: a sender cannot move the deadline into the future
    future = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    late = c.post(
        "/api/v1/orders", json={**order, "reference": "RO-FUT", "received_at": future}, headers=_h(authority)
    )
    assert late.status_code == 409 and "in the future" in late.json()["detail"]
    assert len(c.get("/api/v1/orders", headers=_h(fx.keys["viewer"])).json()) == 2


def test_a_notice_with_an_unknown_item_id_falls_back_to_its_url(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    viewer = _h(fx.keys["viewer"])
    # the platform's own id for the post, which posbon does not hold, and the post's url: kept as open
    r = c.post("/api/v1/notices", json={**GOOD, "item_id": "platform-post-77"}, headers=viewer)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "open"
    # without a url, an unknown id is still refused, naming the field
    no_url = {k: v for k, v in GOOD.items() if k != "url"}
    r = c.post("/api/v1/notices", json={**no_url, "item_id": "platform-post-77"}, headers=viewer)
    assert r.status_code == 422 and _fields(r) == {"item_id"}

"""Decisions, second review, appeals, removal orders and the queue, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posbon.policy import load_profile
from posbon.review import (
    ReviewError,
    action_order,
    appeal,
    decide,
    decisions_for,
    orders_overdue,
    queue,
    record_order,
    resolve_appeal,
    statements_for,
    sync_queue,
    verify,
)
from posbon.store import Store
from review_helpers import add_items, add_reviewers, item_row, open_store

EU = load_profile("eu")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path)
    add_reviewers(s, "alice", "bob", "carol")
    return s


def test_remove_on_match_is_final_with_statement(store: Store) -> None:
    add_items(store, [item_row(1)])
    sync_queue(store, EU)
    assert [e.item.item_id for e in queue(store)] == ["item00000001"]
    d = decide(store, "item00000001", "remove", reviewer="alice", reason="banked poster", policy=EU)
    assert d.status == "final" and d.category == "terrorist_content"
    assert queue(store) == []
    (sor,) = statements_for(store, d.id)
    assert sor.payload["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    with pytest.raises(ReviewError, match="already has a final decision"):
        decide(store, "item00000001", "label", reviewer="bob", reason="again", policy=EU)


def test_no_action_on_match_needs_a_different_second_reviewer(store: Store) -> None:
    add_items(store, [item_row(1)])
    sync_queue(store, EU)
    first = decide(store, "item00000001", "no_action", reviewer="alice", reason="news report", policy=EU)
    assert first.status == "pending_second_review"
    (entry,) = queue(store)
    assert entry.reason == "second_review" and entry.pending_decision is not None
    assert queue(store, reviewer="alice") == []  # she cannot take her own second review
    with pytest.raises(ReviewError, match="second reviewer other than alice"):
        decide(store, "item00000001", "no_action", reviewer="alice", reason="sure", policy=EU)
    second = decide(store, "item00000001", "no_action", reviewer="bob", reason="agree: news", policy=EU)
    assert second.status == "final" and second.second_review_of == first.id
    assert [d.status for d in decisions_for(store, "item00000001")] == ["superseded", "final"]
    assert statements_for(store, second.id) == []  # no restriction, no statement


def test_remove_on_review_item_overridden_by_second_reviewer(store: Store) -> None:
    add_items(store, [item_row(1, verdict="review", kind="indicator", risk=0.5)])
    sync_queue(store, EU)
    first = decide(store, "item00000001", "remove", reviewer="alice", reason="recruiting", policy=EU)
    assert first.status == "pending_second_review"
    assert statements_for(store, first.id) == []
    second = decide(store, "item00000001", "label", reviewer="bob", reason="research quote", policy=EU)
    assert second.status == "final"
    assert statements_for(store, second.id)[0].payload["decision_visibility"] == [
        "DECISION_VISIBILITY_CONTENT_LABELLED"
    ]


def test_automated_decision_needs_human_confirmation(store: Store) -> None:
    add_items(store, [item_row(1)])
    d = decide(
        store, "item00000001", "remove", reviewer="rule:bank", reason="bank match", policy=EU, automated=True
    )
    assert d.status == "pending_second_review"
    c = decide(store, "item00000001", "remove", reviewer="alice", reason="confirmed", policy=EU)
    (sor,) = statements_for(store, c.id)
    assert sor.payload["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
    assert sor.payload["automated_detection"] == "Yes"


def test_unknown_user_action_or_category_refused(store: Store) -> None:
    add_items(store, [item_row(1)])
    with pytest.raises(ReviewError, match="not an enabled user"):
        decide(store, "item00000001", "remove", reviewer="mallory", reason="x", policy=EU)
    with pytest.raises(ReviewError, match="allows"):
        decide(store, "item00000001", "restrict", reviewer="alice", reason="x", policy=EU)
    with pytest.raises(ReviewError, match="unknown category"):
        decide(store, "item00000001", "remove", reviewer="alice", reason="x", policy=EU, category="spam")
    with pytest.raises(ReviewError, match="needs a reason"):
        decide(store, "item00000001", "remove", reviewer="alice", reason="  ", policy=EU)
    with pytest.raises(ReviewError, match="no item"):
        decide(store, "nope", "remove", reviewer="alice", reason="x", policy=EU)


def test_appeal_goes_to_another_reviewer_and_reversal_restores(store: Store) -> None:
    add_items(store, [item_row(1)])
    d = decide(store, "item00000001", "remove", reviewer="alice", reason="banked", policy=EU)
    a = appeal(store, d.id, "This is my own documentary about the region, not propaganda.")
    (entry,) = queue(store)
    assert entry.reason == "appeal" and entry.open_appeal is not None and "alice" in entry.excluded_reviewers
    with pytest.raises(ReviewError, match="already has an open appeal"):
        appeal(store, d.id, "again")
    with pytest.raises(ReviewError, match="another reviewer"):
        resolve_appeal(store, a.id, reviewer="alice", upheld=False, reason="I was wrong")
    resolved = resolve_appeal(store, a.id, reviewer="bob", upheld=False, reason="documentary, exempt")
    assert resolved.status == "reversed" and resolved.assigned_reviewer == "bob"
    assert [x.status for x in decisions_for(store, "item00000001")] == ["reversed"]
    assert queue(store) == []
    checked, breaks = verify(store)
    assert breaks == [] and checked >= 5


def test_upheld_appeal_keeps_decision(store: Store) -> None:
    add_items(store, [item_row(1)])
    d = decide(store, "item00000001", "remove", reviewer="alice", reason="banked", policy=EU)
    a = appeal(store, d.id, "Please restore it.")
    assert (
        resolve_appeal(store, a.id, reviewer="carol", upheld=True, reason="known poster").status == "upheld"
    )
    assert decisions_for(store, "item00000001")[0].status == "final"


def test_removal_order_jumps_the_queue_and_is_actioned(store: Store) -> None:
    add_items(store, [item_row(n, risk=0.99) for n in range(1, 5)] + [item_row(9, risk=0.1)])
    sync_queue(store, EU)
    assert queue(store)[0].item.item_id != "item00000009"
    received = datetime.now(UTC) - timedelta(minutes=90)
    order = record_order(
        store, "item00000009", authority="Competent authority X", reference="RO-1", received_at=received
    )
    assert order.deadline_at.replace(tzinfo=UTC) == received + timedelta(hours=1)
    first = queue(store)[0]
    assert (
        first.item.item_id == "item00000009"
        and first.open_order is not None
        and first.deadline_at is not None
    )
    assert [o.id for o in orders_overdue(store)] == [order.id]
    assert orders_overdue(store, received + timedelta(minutes=30)) == []
    done = action_order(store, order.id, reviewer="alice", policy=EU)
    assert done.status == "actioned" and done.action == "remove"
    (d,) = decisions_for(store, "item00000009")
    assert d.status == "final" and d.removal_order_id == order.id
    assert statements_for(store, d.id)[0].payload["source_type"] == "SOURCE_TYPE_OTHER_NOTIFICATION"
    assert all(e.item.item_id != "item00000009" for e in queue(store))
    assert orders_overdue(store) == []


def test_order_not_actioned_needs_a_reason(store: Store) -> None:
    add_items(store, [item_row(1)])
    order = record_order(store, "item00000001", authority="Authority", reference="RO-2")
    with pytest.raises(ReviewError, match="say why"):
        action_order(store, order.id, reviewer="alice", policy=EU, not_actioned_reason=" ")
    o = action_order(
        store, order.id, reviewer="alice", policy=EU, not_actioned_reason="manifest error in the order"
    )
    assert o.status == "not_actioned"


def test_queue_order_risk_severity_age(store: Store) -> None:
    now = datetime.now(UTC)
    add_items(
        store,
        [
            item_row(1, risk=0.5, kind="bank_match", seen=now - timedelta(days=2)),
            item_row(2, risk=0.9, verdict="review", kind="indicator", seen=now - timedelta(days=1)),
            item_row(3, risk=0.9, kind="bank_match", seen=now - timedelta(days=1)),
            item_row(4, risk=0.9, kind="bank_match", seen=now - timedelta(days=3)),
            item_row(5, verdict="clear", risk=0.0),
        ],
    )
    assert sync_queue(store, EU) == 4
    assert sync_queue(store, EU) == 0
    order = [e.item.item_id[-1] for e in queue(store)]
    assert order == ["4", "3", "2", "1"]  # 0.9x1.0 (older first), 0.9x0.7=0.63, 0.5x1.0
    assert [e.item.item_id[-1] for e in queue(store, limit=2, offset=1)] == ["3", "2"]
    assert queue(store, jurisdiction="default") == []

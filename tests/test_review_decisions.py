"""Decisions, second review, appeals, removal orders and the queue, on a real store (SQLite, or PostgreSQL
with POSBON_TEST_PG=1), including reviewers acting on one item at the same moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

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
from posbon.review import decisions as decisions_module
from posbon.store import Store
from posbon.store.review_models import AuditRecordRow
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


# ---- concurrent reviewers on one item ----------------------------------------------------------------
# Each service reads the item's decisions, checks the rules, then writes. Under PostgreSQL's READ COMMITTED
# two reviewers deciding the same item at once could both pass the checks; the services lock the item row
# first (SELECT ... FOR UPDATE), so the second one checks against the first one's committed decision.
# `_notice_source` runs after the checks and before the insert: slowing it down holds every racer between
# its checks and its write, so without the lock all of them would pass the checks every round.


def _slow_between_check_and_write(monkeypatch: pytest.MonkeyPatch, name: str = "_notice_source") -> None:
    """Make decisions_module.<name> (called after a service's checks) take 50 ms longer."""
    original = getattr(decisions_module, name)

    def slow(*args: Any) -> Any:
        time.sleep(0.05)
        return original(*args)

    monkeypatch.setattr(decisions_module, name, slow)


def _race(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the calls at the same moment, one thread each; their results and their exceptions."""
    start = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        start.wait(timeout=30)
        try:
            value = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results, errors


def _standing(store: Store, item_id: str) -> list[str]:
    return [d.status for d in decisions_for(store, item_id) if d.status in ("final", "pending_second_review")]


RACERS = ("alice", "bob", "carol", "dave")


def test_four_reviewers_removing_one_item_at_once_leave_one_final_decision(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_reviewers(store, "dave")
    rounds = 3
    add_items(store, [item_row(n) for n in range(1, rounds + 1)])
    sync_queue(store, EU)
    _slow_between_check_and_write(monkeypatch)
    for n in range(1, rounds + 1):
        item_id = f"item{n:08d}"
        results, errors = _race(
            [
                partial(decide, store, item_id, "remove", reviewer=who, reason=f"banked, {who}", policy=EU)
                for who in RACERS
            ]
        )
        assert len(results) == 1 and results[0].status == "final"
        assert len(errors) == len(RACERS) - 1
        assert all(isinstance(e, ReviewError) and "already has a final decision" in str(e) for e in errors)
        assert [(d.id, d.status) for d in decisions_for(store, item_id)] == [(results[0].id, "final")]
        assert len(statements_for(store, results[0].id)) == 1
    assert queue(store) == []
    assert verify(store)[1] == []


def test_two_second_reviewers_confirming_at_once_leave_one_final_decision(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_reviewers(store, "dave")
    rounds = 3
    add_items(store, [item_row(n) for n in range(1, rounds + 1)])
    sync_queue(store, EU)
    firsts = [
        decide(store, f"item{n:08d}", "no_action", reviewer="alice", reason="news report", policy=EU)
        for n in range(1, rounds + 1)
    ]
    assert {d.status for d in firsts} == {"pending_second_review"}
    _slow_between_check_and_write(monkeypatch)
    for first in firsts:
        item_id = str(first.item_id)
        results, errors = _race(
            [
                partial(decide, store, item_id, "no_action", reviewer=who, reason=f"agree, {who}", policy=EU)
                for who in RACERS[1:]
            ]
        )
        assert len(results) == 1 and len(errors) == 2, errors
        (second,) = results
        assert second.status == "final" and second.second_review_of == first.id
        assert all(isinstance(e, ReviewError) and "already has a final decision" in str(e) for e in errors)
        assert [(d.id, d.status) for d in decisions_for(store, item_id)] == [
            (first.id, "superseded"),
            (second.id, "final"),
        ]
        assert _standing(store, item_id) == ["final"]
    assert verify(store)[1] == []


def test_two_reviewers_resolving_one_appeal_at_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    add_reviewers(store, "dave")
    add_items(store, [item_row(1)])
    sync_queue(store, EU)
    d = decide(store, "item00000001", "remove", reviewer="alice", reason="banked poster", policy=EU)
    a = appeal(store, d.id, "This is my own documentary about the region, not propaganda.")
    _slow_between_check_and_write(monkeypatch, "_policy_stub")  # after resolve_appeal's checks
    results, errors = _race(
        [
            partial(resolve_appeal, store, a.id, reviewer="bob", upheld=False, reason="documentary"),
            partial(resolve_appeal, store, a.id, reviewer="carol", upheld=True, reason="known poster"),
        ]
    )
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], ReviewError) and "already resolved" in str(errors[0])
    with store.session() as s:
        actions = list(
            s.scalars(
                select(AuditRecordRow.action).where(
                    AuditRecordRow.action.in_(("appeal.upheld", "appeal.reversed"))
                )
            )
        )
    assert len(actions) == 1
    assert verify(store)[1] == []


def test_two_complaints_against_one_decision_at_once_open_one_appeal(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_items(store, [item_row(1)])
    sync_queue(store, EU)
    d = decide(store, "item00000001", "remove", reviewer="alice", reason="banked poster", policy=EU)
    _slow_between_check_and_write(monkeypatch, "_policy_stub")  # holds the first appeal's transaction open
    results, errors = _race(
        [partial(appeal, store, d.id, f"Complaint {n}: please restore my post.") for n in range(2)]
    )
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], ReviewError) and "already has an open appeal" in str(errors[0])
    with pytest.raises(ReviewError, match="has an open appeal: resolve it"):
        decide(store, "item00000001", "label", reviewer="bob", reason="again", policy=EU)


def test_two_reviewers_actioning_one_removal_order_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_items(store, [item_row(1, verdict="review", kind="indicator", risk=0.5)])
    sync_queue(store, EU)
    order = record_order(store, "item00000001", authority="Authority", reference="RO-9")
    _slow_between_check_and_write(monkeypatch)
    results, errors = _race(
        [
            partial(action_order, store, order.id, reviewer="alice", policy=EU, action="remove"),
            partial(action_order, store, order.id, reviewer="bob", policy=EU, action="geo_block"),
        ]
    )
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], ReviewError) and "already actioned" in str(errors[0])
    assert _standing(store, "item00000001") == ["final"]

"""Retention: old items are purged, except content removed under six months ago and items with open
orders or appeals; purges are audited with counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from posbon.policy import load_profile
from posbon.review import appeal, decide, purge, record_order, records, verify
from review_helpers import add_items, add_reviewers, item_row, open_store

EU = load_profile("eu")


def test_purge_keeps_what_the_law_keeps(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    add_reviewers(store, "alice")
    old = datetime.now(UTC) - timedelta(days=400)
    add_items(store, [item_row(n, seen=old) for n in range(1, 6)] + [item_row(9)])
    removed = decide(store, "item00000001", "remove", reviewer="alice", reason="banked", policy=EU)
    record_order(store, "item00000002", authority="Authority", reference="RO-9")
    labelled = decide(store, "item00000003", "label", reviewer="alice", reason="quote", policy=EU)
    appeal(store, labelled.id, "please remove the label")
    dry = purge(store, EU, dry_run=True)
    assert (dry.older, dry.purged, dry.kept_removed, dry.kept_open) == (5, 2, 1, 2)
    assert store.count_items() == 6
    done = purge(store, EU)
    assert done.purged == 2
    assert {r.item_id for r in store.items()} == {
        "item00000001",
        "item00000002",
        "item00000003",
        "item00000009",
    }
    # half a year after the removal, the removed content goes too
    later = purge(store, EU, now=datetime.now(UTC) + timedelta(days=200))
    assert later.purged == 2 and removed.id is not None  # item 1 and, by then, item 9
    assert {r.item_id for r in store.items()} == {"item00000002", "item00000003"}
    (rec,) = records(store, action="purge")[-1:]
    assert rec.details["purged"] == 2 and "text" not in rec.details
    assert verify(store)[1] == []

"""Reviewers' decisions become labelled examples: only settled human judgements count."""

from __future__ import annotations

from pathlib import Path

from posbon.review import active_policy, appeal, decide, resolve_appeal, sync_queue
from posbon.review.training import label_for, labelled_from_decisions
from review_helpers import add_items, add_reviewers, item_row, open_store


def test_labels_follow_the_settled_decision() -> None:
    assert label_for("remove", "final") == 1
    assert label_for("geo_block", "final") == 1
    assert label_for("no_action", "final") == 0
    assert label_for("remove", "reversed") == 0
    assert label_for("label", "final") is None
    assert label_for("remove", "pending_second_review") is None


def test_examples_from_decisions_in_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    texts = {1: "promotion-shaped stand-in one", 2: "local news about bread prices", 3: "stand-in reversed"}
    add_items(store, [item_row(n, text=t) for n, t in texts.items()])
    add_reviewers(store, "rita", "ravi")
    policy = active_policy(store)
    sync_queue(store, policy)
    decide(store, "item00000001", "remove", reviewer="rita", reason="stand-in", policy=policy)
    decide(store, "item00000002", "no_action", reviewer="rita", reason="news", policy=policy)
    # no_action on a bank match needs a second reviewer under the EU profile
    decide(store, "item00000002", "no_action", reviewer="ravi", reason="news, confirmed", policy=policy)
    third = decide(store, "item00000003", "remove", reviewer="rita", reason="stand-in", policy=policy)
    complaint = appeal(store, third.id, "this is a news report")
    resolve_appeal(store, complaint.id, reviewer="ravi", upheld=False, reason="news report")
    examples = {e.text: e.label for e in labelled_from_decisions(store)}
    assert examples == {texts[1]: 1, texts[2]: 0, texts[3]: 0}

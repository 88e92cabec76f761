"""Repeated misuse (DSA Art. 23): thresholds, window, reversed decisions, never viewers/likers, appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posbon.platform.notices import NoticeIn, submit_notice
from posbon.policy import PolicyError, load_profile, policy_from_document
from posbon.review import ReviewError, appeal, decide, resolve_appeal, verify
from posbon.review.access import record_access
from posbon.review.misuse import (
    appeal_step,
    evaluate,
    is_suspended,
    misuse_settings,
    resolve_step_appeal,
    steps,
)
from posbon.store import Store
from review_helpers import add_items, add_reviewers, item_row, open_store

AUTHOR = "a_repeat0000000000000001"
OTHER = "a_bystander00000000000002"
EU = load_profile("eu")  # authors: warn_at 2, suspend_at 4, suspend_days 14, window 90


def _store(tmp_path: Path, n: int = 8, author: str = AUTHOR) -> Store:
    store = open_store(tmp_path)
    rows = [
        item_row(i, author=author, text=f"stand-in post {i}, mentioning @{OTHER}") for i in range(1, n + 1)
    ]
    add_items(store, rows)
    add_reviewers(store, "rita", "ravi", "remy")
    return store


def _remove(store: Store, n: int) -> int:
    return decide(store, f"item{n:08d}", "remove", reviewer="rita", reason="stand-in", policy=EU).id


def test_the_eu_profile_has_misuse_settings_and_bad_ones_name_the_field() -> None:
    settings = misuse_settings(EU)
    assert settings.authors is not None and settings.authors.warn_at == 2 and settings.authors.suspend_at == 4
    doc = dict(
        EU.document, misuse={"authors": {"window_days": 0, "warn_at": 2, "suspend_at": 4, "suspend_days": 1}}
    )
    with pytest.raises(PolicyError, match="misuse.authors.window_days"):
        misuse_settings(policy_from_document(doc, origin="x.yaml"))


def test_warn_at_two_then_suspend_at_four(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = _remove(store, 1)
    assert evaluate(store, EU) == []  # one decision: below warn_at
    second = _remove(store, 2)
    made = evaluate(store, EU)
    assert [(s.step, s.subject, s.decision_ids) for s in made] == [("warning", AUTHOR, [first, second])]
    assert f"decisions {first}, {second}" in made[0].explanation
    assert evaluate(store, EU) == []  # nothing new: no second warning
    _remove(store, 3)
    assert evaluate(store, EU) == []  # three: warned already, below suspend_at
    _remove(store, 4)
    made = evaluate(store, EU)
    assert [s.step for s in made] == ["suspension"] and len(made[0].decision_ids) == 4
    ends = made[0].ends_at
    assert ends is not None and timedelta(days=13, hours=23) < ends - datetime.now(UTC) <= timedelta(days=14)
    assert "until" in made[0].explanation
    assert is_suspended(store, "author", AUTHOR)
    assert not is_suspended(store, "author", AUTHOR, now=ends + timedelta(seconds=1))
    # audited with the decision ids, and the chain is intact
    _, breaks = verify(store)
    assert breaks == []


def test_suspension_needs_a_prior_warning(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for n in range(1, 5):
        _remove(store, n)
    assert [s.step for s in evaluate(store, EU)] == ["warning"]  # four at once: a warning first
    assert evaluate(store, EU) == []
    _remove(store, 5)
    assert [s.step for s in evaluate(store, EU)] == ["suspension"]


def test_window_is_respected(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for n in range(1, 4):
        _remove(store, n)
    later = datetime.now(UTC) + timedelta(days=91)
    assert evaluate(store, EU, now=later) == []  # all three decisions are older than 90 days then
    assert [s.step for s in evaluate(store, EU, now=datetime.now(UTC) + timedelta(days=89))] == ["warning"]


def test_reversed_and_automated_and_no_action_decisions_are_not_counted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    reversed_id = _remove(store, 1)
    a = appeal(store, reversed_id, "it was news reporting")
    resolve_appeal(store, a.id, reviewer="ravi", upheld=False, reason="reporting, exempt")
    decide(store, "item00000002", "remove", reviewer="auto-rule", reason="rule", policy=EU, automated=True)
    decide(store, "item00000003", "label", reviewer="rita", reason="stand-in", policy=EU)
    assert evaluate(store, EU) == []  # only decision 3 counts (automated is pending, the reversed one is out)
    _remove(store, 4)
    made = evaluate(store, EU)
    assert len(made) == 1 and reversed_id not in made[0].decision_ids and len(made[0].decision_ids) == 2


def test_viewers_likers_and_mentioned_handles_are_never_counted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for n in range(1, 6):
        _remove(store, n)
        record_access(store, actor=OTHER, item_id=f"item{n:08d}")  # someone who opened (viewed) the items
    evaluate(store, EU)
    evaluate(store, EU)
    subjects = {s.subject for s in steps(store)}
    assert subjects == {AUTHOR}  # the mentioned / viewing pseudonym never appears
    assert not is_suspended(store, "author", OTHER)


def test_appeal_of_a_step_and_reversal_lifts_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _remove(store, 1)
    _remove(store, 2)
    (warning,) = evaluate(store, EU)
    with pytest.raises(ReviewError, match="no open appeal"):
        resolve_step_appeal(store, warning.id, reviewer="ravi", upheld=True, reason="x")
    appealed = appeal_step(store, warning.id, "my posts were satire")
    assert appealed.appeal_status == "open"
    with pytest.raises(ReviewError, match="already appealed"):
        appeal_step(store, warning.id, "again")
    lifted = resolve_step_appeal(
        store, warning.id, reviewer="ravi", upheld=False, reason="satire, not illegal"
    )
    assert lifted.status == "lifted" and lifted.appeal_status == "reversed"
    assert evaluate(store, EU) == []  # not re-issued on the same decisions
    _remove(store, 3)
    assert [s.step for s in evaluate(store, EU)] == ["warning"]  # a lifted warning is no prior warning
    _, breaks = verify(store)
    assert breaks == []


def test_notifiers_of_unfounded_notices(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    add_items(store, [item_row(i, verdict="clear", risk=0.0) for i in range(1, 7)])
    add_reviewers(store, "rita")
    for i in range(1, 7):
        submit_notice(
            store,
            NoticeIn(
                explanation="this is terrorist content",
                good_faith=True,
                item_id=f"item{i:08d}",
                notifier_name="N. Otifier",
                notifier_email="Notifier@example.org",
            ),
            submitted_by="public-form",
            policy=EU,
        )
        decide(store, f"item{i:08d}", "no_action", reviewer="rita", reason="not illegal", policy=EU)
    made = evaluate(store, EU)  # notifiers: warn_at 5
    assert [s.subject_kind for s in made] == ["notifier"] and made[0].step == "warning"
    assert made[0].subject.startswith("email:") and "example.org" not in made[0].subject
    assert len(made[0].notice_ids) == 6


def test_the_same_notice_sent_again_counts_once(tmp_path: Path) -> None:
    # A client retrying one notice five times is not five unfounded notices: counted once per decision.
    store = open_store(tmp_path)
    add_items(store, [item_row(i, verdict="clear", risk=0.0) for i in range(1, 7)])
    add_reviewers(store, "rita")

    def notice(i: int) -> NoticeIn:
        return NoticeIn(
            explanation="this is terrorist content",
            good_faith=True,
            item_id=f"item{i:08d}",
            notifier_name="R. Etry",
            notifier_email="retry@example.org",
        )

    for _ in range(5):
        submit_notice(store, notice(1), submitted_by="public-form", policy=EU)
    decide(store, "item00000001", "no_action", reviewer="rita", reason="not illegal", policy=EU)
    assert evaluate(store, EU) == []  # 1 unfounded notice, not 5 (notifiers: warn_at 5)
    for i in range(2, 6):
        submit_notice(store, notice(i), submitted_by="public-form", policy=EU)
        decide(store, f"item{i:08d}", "no_action", reviewer="rita", reason="not illegal", policy=EU)
    made = evaluate(store, EU)  # now 5 decisions: the warning, naming each decision once
    assert [s.step for s in made] == ["warning"]
    assert (
        sorted(made[0].decision_ids) == sorted(set(made[0].decision_ids)) and len(made[0].decision_ids) == 5
    )

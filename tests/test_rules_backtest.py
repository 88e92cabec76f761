"""Backtests over a known stored history with human decisions, and the `posbon rules` commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posbon.domain import Evidence
from posbon.policy import load_profile
from posbon.review import appeal, decide, resolve_appeal, sync_queue
from posbon.rules import backtest, rule_from_document
from posbon.settings import Settings
from posbon.store import Store
from review_helpers import add_items, add_reviewers, open_store
from test_rules import PDQ_HIT, row, rule_doc

EU = load_profile("eu")
OTHER = Evidence(kind="indicator", detail="call_to_join: «walk with us»", weight=0.6)


def history(store: Store) -> None:
    """Items 1-7 carry a TAT bank match, item 8 does not; humans decided most of them."""
    add_reviewers(store, "alice", "bob")
    add_items(store, [row(n, [PDQ_HIT]) for n in range(1, 8)] + [row(8, [OTHER], verdict="review")])
    sync_queue(store, EU)

    def human(n: int, action: str, who: str = "alice") -> int:
        return decide(store, f"item{n:08d}", action, reviewer=who, reason="checked", policy=EU).id

    human(1, "remove")  # agreed
    human(2, "remove")  # agreed
    human(3, "no_action")
    human(3, "no_action", "bob")  # confirmed by a second reviewer: no action, final
    removed = human(4, "remove")
    complaint = appeal(store, removed, "This is a museum's archive photo.")
    resolve_appeal(store, complaint.id, reviewer="bob", upheld=False, reason="archive material")  # reversed
    human(5, "label")  # another action
    # item 6: only posbon decided (an automated decision is not a human one): undecided
    decide(store, "item00000006", "remove", reviewer="rule:x v1", reason="auto", policy=EU, automated=True)
    human(7, "no_action")  # waits for a second reviewer: pending
    human(8, "remove")  # not matched by the rule: not counted


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path)
    history(s)
    return s


def test_backtest_counts_and_overlap_with_human_decisions(store: Store) -> None:
    rule = rule_from_document(rule_doc("tat-remove", "draft"))
    result = backtest(store, rule, batch=3)  # several batches
    assert (result.examined, result.matched) == (8, 7)
    assert dict(result.actions) == {"decide:remove": 7}
    overlap = result.overlap
    assert overlap is not None
    assert (overlap.agreed, overlap.no_action, overlap.other, overlap.reversed, overlap.pending) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert overlap.undecided == 1
    assert overlap.precision == pytest.approx(2 / 5)
    first = result.samples[0]
    assert (first.item_id, first.source, first.language, first.evidence) == (
        "item00000001",
        "telegram:demo",
        "tg",
        (PDQ_HIT,),
    )


def test_backtest_since_limit_and_routing(store: Store) -> None:
    rule = rule_from_document(rule_doc("tat-remove", "draft"))
    since = backtest(store, rule, since=datetime(2026, 10, 1, 4, tzinfo=UTC), batch=2)
    assert (since.examined, since.matched) == (5, 4)  # items 4-8 were posted from 04:00
    assert since.overlap is not None and (since.overlap.agreed, since.overlap.reversed) == (0, 1)
    limited = backtest(store, rule, limit=3, batch=2, samples=2)
    assert (limited.examined, limited.matched, len(limited.samples)) == (3, 3, 2)
    routing = backtest(store, rule_from_document(rule_doc("tat-route", "draft", kind="routing")))
    assert dict(routing.actions) == {"queue:tat-desk": 7} and routing.overlap is None


def test_rules_cli_load_list_status_backtest_hits(tmp_path: Path) -> None:
    from posbon.cli import app
    from posbon.cli_rules import register

    if not any(g.name == "rules" for g in app.registered_groups):
        register(app)
    store = Store.open(Settings.load().database_url)
    history(store)
    rules_file = tmp_path / "tat.yaml"
    rules_file.write_text(
        "id: tat-remove\nversion: 1\nkind: enforcement\nstatus: draft\n"
        "when: {evidence: {kind: bank_match, bank: tat-hashes, signal_type: pdq, distance_lte: 10}}\n"
        "then: {decide: remove, reason: known poster}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    loaded = runner.invoke(app, ["rules", "load", str(rules_file)])
    assert loaded.exit_code == 0, loaded.output
    assert "loaded: tat-remove v1 (enforcement, draft) -> decide:remove" in loaded.output
    assert "unchanged" in runner.invoke(app, ["rules", "load", str(rules_file)]).output
    listed = runner.invoke(app, ["rules", "list"])
    assert "tat-remove" in listed.output and "draft" in listed.output
    tested = runner.invoke(app, ["rules", "backtest", "tat-remove", "--since", "2026-09-01"])
    assert tested.exit_code == 0, tested.output
    assert "7 of 8 items matched" in tested.output and "would decide:remove: 7" in tested.output
    assert "agreed 2" in tested.output and "precision vs humans 0.40" in tested.output
    assert runner.invoke(app, ["rules", "status", "tat-remove", "--set", "shadow"]).exit_code == 0
    assert runner.invoke(app, ["rules", "status", "tat-remove", "--set", "draftish"]).exit_code == 2
    assert "no hits" in runner.invoke(app, ["rules", "hits", "tat-remove"]).output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nversion: 1\nkind: routing\nwhen: {risk_gte: 7}\nthen: {queue: q}\n", encoding="utf-8"
    )
    refused = runner.invoke(app, ["rules", "load", str(bad)])
    assert refused.exit_code == 1
    assert "bad.yaml:4: rule x: when.risk_gte: must be a number from 0 to 1" in refused.output

"""Rules: the condition language, rule files, statuses (draft, shadow, live, expired), routing, audit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from posbon.domain import Evidence, Item
from posbon.policy import load_profile
from posbon.review import decisions_for, records, sync_queue, verify
from posbon.rules import (
    ItemView,
    RuleError,
    apply_rules,
    evaluate,
    hits,
    list_rules,
    load_rule,
    parse_condition,
    parse_rules,
    routes,
    rule_from_document,
    set_status,
    triggering,
)
from posbon.rules.conditions import matches
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.store import Store
from posbon.store.review_models import QueueEntryRow
from posbon.store.rules_models import RuleHitRow
from review_helpers import add_items, open_store

EU_PROFILE = load_profile("eu")

PDQ_HIT = Evidence(kind="bank_match", signal_type="pdq", bank="tat-hashes", distance=6, weight=1.0)
TEXT_NEAR = Evidence(kind="near_match", signal_type="text", bank="local", similarity=0.72, weight=0.4)
INVITE = Evidence(kind="indicator", detail="invite link into a private chat: t.me/+abc", weight=0.3)
CALL = Evidence(
    kind="indicator", detail="call_to_join: «come walk with us» [pack 1 / cj-1]", entry_label="cj-1"
)
CLASSIFIER = Evidence(kind="classifier", detail="classifier tiny v2: p=0.93 (held-out precision 0.90)")
REPORTING = Evidence(
    kind="context", detail="reads as news / reporting (score -0.80): cites a court", weight=0
)

VIEW = ItemView(
    item_id="i1",
    source="telegram:lantern",
    language="tg",
    verdict="match",
    risk=0.85,
    evidence=(PDQ_HIT, TEXT_NEAR, INVITE, CALL, CLASSIFIER, REPORTING),
)
BARE = ItemView(item_id="i2", source="rss:news", language="ru", verdict="clear", risk=0.1)


def holds(tree: object, view: ItemView = VIEW) -> bool:
    return matches(parse_condition(tree), view)


@pytest.mark.parametrize(
    ("tree", "on_view", "on_bare"),
    [
        (
            {
                "evidence": {
                    "kind": "bank_match",
                    "bank": "tat-hashes",
                    "signal_type": "pdq",
                    "distance_lte": 10,
                }
            },
            1,
            0,
        ),
        ({"evidence": {"kind": "bank_match", "distance_lte": 5}}, 0, 0),
        ({"evidence": {"kind": "bank_match", "bank": "other"}}, 0, 0),
        ({"evidence": {"kind": "near_match", "similarity_gte": 0.7}}, 1, 0),
        ({"evidence": {"kind": "near_match", "similarity_gte": 0.8}}, 0, 0),
        ({"indicator": {"category": "invite_private_chat"}}, 1, 0),
        ({"indicator": {"category": "call_to_join", "id": "cj-1"}}, 1, 0),
        ({"indicator": {"category": "pledge_allegiance"}}, 0, 0),
        ({"classifier_gte": 0.9}, 1, 0),
        ({"classifier_gte": 0.95}, 0, 0),
        ({"risk_gte": 0.8}, 1, 0),
        ({"risk_lte": 0.2}, 0, 1),
        ({"language_in": ["tg", "uz"]}, 1, 0),
        ({"language_in": "ru"}, 0, 1),
        ({"source": "telegram:*"}, 1, 0),
        ({"source": "rss:news"}, 0, 1),
        ({"verdict": "match"}, 1, 0),
        ({"verdict": ["review", "clear"]}, 0, 1),
        ({"context": "reporting"}, 1, 0),
        ({"context": "promotion"}, 0, 0),
    ],
)
def test_each_leaf(tree: dict[str, Any], on_view: int, on_bare: int) -> None:
    assert holds(tree) is bool(on_view)
    assert holds(tree, BARE) is bool(on_bare)


def test_all_any_not_and_triggering_evidence() -> None:
    pdq = {"evidence": {"kind": "bank_match", "bank": "tat-hashes"}}
    tree = {
        "all": [
            pdq,
            {"any": [{"language_in": ["uz"]}, {"classifier_gte": 0.9}]},
            {"not": {"context": "promotion"}},
        ]
    }
    assert holds(tree)
    assert not holds({"all": [pdq, {"not": {"context": "reporting"}}]})
    assert holds({"any": [{"verdict": "clear"}, {"risk_gte": 0.99}]}, BARE)
    assert not holds({"not": {"any": [{"verdict": "clear"}]}}, BARE)
    # the evidence shown for a hit is what satisfied the positive tests, never what `not` excluded
    assert triggering(parse_condition(tree), VIEW) == [PDQ_HIT, CLASSIFIER]


@pytest.mark.parametrize(
    ("tree", "where"),
    [
        ({"evidence": {"kind": "bank_matchh"}}, "when.evidence.kind"),
        ({"evidence": {"distance_lte": 300}}, "when.evidence.distance_lte"),
        ({"evidence": {"colour": "red"}}, "when.evidence.colour"),
        ({"all": []}, "when.all"),
        ({"any": [{"risk_gte": 2}]}, "when.any[0].risk_gte"),
        ({"verdict": "maybe"}, "when.verdict"),
        ({"context": "gossip"}, "when.context"),
        ({"eval": "__import__('os')"}, "when.eval"),
        ({"risk_gte": 0.5, "verdict": "match"}, "when"),
    ],
)
def test_bad_conditions_name_the_field(tree: object, where: str) -> None:
    with pytest.raises(RuleError) as caught:
        rule_from_document(
            {"id": "r", "version": 1, "kind": "routing", "when": tree, "then": {"queue": "q"}},
            origin="f.yaml",
        )
    message = str(caught.value)
    assert message.startswith(f"f.yaml: rule r: {where}: ") and "\n" not in message


RULES_YAML = """\
- id: good
  version: 1
  kind: enforcement
  status: shadow
  when: {evidence: {kind: bank_match}}
  then: {decide: remove, reason: banked poster}
- id: broken
  version: 1
  kind: enforcement
  when:
    all:
      - {risk_gte: 0.5}
      - {evidence: {distance_lte: -1}}
  then: {decide: remove, reason: x}
- id: no-reason
  version: 1
  kind: enforcement
  when: {risk_gte: 0.5}
  then: {decide: delete}
"""


def test_rule_file_problems_are_one_line_with_file_line_rule_field_and_others_load() -> None:
    rules, problems = parse_rules(RULES_YAML, origin="rules.yaml")
    assert [r.id for r in rules] == ["good"]
    assert [str(p) for p in problems] == [
        "rules.yaml:13: rule broken: when.all[1].evidence.distance_lte: must be a whole number from 0 to 256 "
        "(PDQ bits)",
        "rules.yaml:19: rule no-reason: then.decide: must be one of remove, geo_block, label",
    ]


def test_invalid_yaml_is_one_problem_with_its_line() -> None:
    rules, problems = parse_rules("- id: a\n  when: {risk_gte: [0.5\n", origin="bad.yaml")
    assert rules == []
    (problem,) = problems
    assert problem.file == "bad.yaml" and problem.line is not None and "not valid YAML" in str(problem)
    assert "\n" not in str(problem)


# ---- statuses, on a real store -----------------------------------------------------------------------------


def row(
    n: int, evidence: list[Evidence], *, verdict: str = "match", risk: float = 0.9, language: str = "tg"
) -> dict[str, Any]:
    return {
        "item_id": f"item{n:08d}",
        "source": "telegram:demo",
        "external_id": str(n),
        "text": "A benign stand-in post about the reading circle",
        "created_at": datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=n),
        "author": None,
        "url": None,
        "media": [],
        "links": {},
        "language": "tg",
        "language_confidence": 0.9,
        "verdict": verdict,
        "risk": risk,
        "evidence": [e.to_dict() for e in evidence],
        "first_seen_at": datetime(2026, 10, 2, tzinfo=UTC),
    }


def rule_doc(rid: str, status: str, *, kind: str = "enforcement", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": rid,
        "version": 1,
        "kind": kind,
        "status": status,
        "when": {"evidence": {"kind": "bank_match", "bank": "tat-hashes"}},
        "then": {"decide": "remove", "reason": "known poster in the TAT hash list"}
        if kind == "enforcement"
        else {"queue": "tat-desk", "priority_boost": 0.5},
    }
    doc.update(extra)
    return doc


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path)
    add_items(s, [row(1, [PDQ_HIT]), row(2, [INVITE], verdict="review", risk=0.3), row(3, [PDQ_HIT, CALL])])
    sync_queue(s, EU_PROFILE)
    return s


def hit_rows(store: Store) -> list[RuleHitRow]:
    with store.session() as s:
        return list(s.scalars(select(RuleHitRow).order_by(RuleHitRow.id)).all())


def test_draft_never_runs(store: Store) -> None:
    load_rule(store, rule_from_document(rule_doc("tat-remove", "draft")))
    assert apply_rules(store, ["item00000001", "item00000003"]).hits == 0
    assert hit_rows(store) == [] and decisions_for(store, "item00000001") == []


def test_shadow_is_logged_and_never_acts(store: Store) -> None:
    load_rule(store, rule_from_document(rule_doc("tat-remove", "shadow")))
    result = apply_rules(store, ["item00000001", "item00000002", "item00000003"])
    assert (result.evaluated, result.hits, result.acted) == (3, 2, 0)
    logged = hit_rows(store)
    assert [(h.item_id, h.status, h.would_act, h.acted) for h in logged] == [
        ("item00000001", "shadow", "decide:remove", False),
        ("item00000003", "shadow", "decide:remove", False),
    ]
    assert decisions_for(store, "item00000001") == [] and decisions_for(store, "item00000003") == []
    # a rescan of the same items logs nothing twice
    assert apply_rules(store, ["item00000001", "item00000003"]).hits == 0
    assert len(hits(store, "tat-remove")) == 2


def test_live_acts_through_an_automated_decision_that_waits_for_a_human(store: Store) -> None:
    load_rule(store, rule_from_document(rule_doc("tat-remove", "live")))
    load_rule(
        store,
        rule_from_document(rule_doc("tat-label", "live", order=200, then={"decide": "label", "reason": "x"})),
    )
    result = apply_rules(store, ["item00000001", "item00000002"])
    assert (result.hits, result.acted) == (2, 1)
    (decision,) = decisions_for(store, "item00000001")
    assert decision.automated and decision.action == "remove" and decision.reviewer == "rule:tat-remove v1"
    assert decision.status == "pending_second_review"  # EU: a machine's decision waits for a human
    by_rule = {h.rule_id: h for h in hit_rows(store)}
    assert by_rule["tat-remove"].acted and by_rule["tat-remove"].decision_id == decision.id
    # the second live rule on the same item is refused by the review service, and logged as not acted
    assert not by_rule["tat-label"].acted and "waits for a second review" in by_rule["tat-label"].note
    assert len(result.problems) == 1


def test_expired_does_nothing_by_status_or_by_date(store: Store) -> None:
    load_rule(store, rule_from_document(rule_doc("old", "live")))
    set_status(store, "old", "expired")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    load_rule(store, rule_from_document(rule_doc("dated", "live", expires_at=past)))
    load_rule(store, rule_from_document(rule_doc("route-dated", "shadow", kind="routing", expires_at=past)))
    assert apply_rules(store, ["item00000001", "item00000003"]).hits == 0
    assert hit_rows(store) == [] and decisions_for(store, "item00000001") == []
    with pytest.raises(RuleError, match="expired at"):
        set_status(store, "dated", "live")


def test_routing_first_live_match_picks_the_queue_and_boosts_once(store: Store) -> None:
    everything = {"risk_gte": 0.0}
    load_rule(store, rule_from_document(rule_doc("b-tat", "live", kind="routing", order=10)))
    load_rule(
        store,
        rule_from_document(
            rule_doc("a-any", "live", kind="routing", order=20, when=everything, then={"queue": "general"})
        ),
    )
    load_rule(
        store,
        rule_from_document(
            rule_doc("c-try", "shadow", kind="routing", order=1, when=everything, then={"queue": "new-desk"})
        ),
    )
    with store.session() as s:
        before = s.get(QueueEntryRow, "item00000001")
        assert before is not None
        base = before.priority
    ids = ["item00000001", "item00000002"]
    result = apply_rules(store, ids)
    assert result.routed == 2
    assert {r.item_id: r.queue for r in routes(store)} == {
        "item00000001": "tat-desk",
        "item00000002": "general",
    }
    logged = {(h.rule_id, h.item_id): (h.status, h.acted) for h in hit_rows(store)}
    assert logged[("c-try", "item00000001")] == ("shadow", False)  # shadow: logged, routes nothing
    assert logged[("b-tat", "item00000001")] == ("live", True)
    assert logged[("a-any", "item00000001")] == ("live", False)  # matched, but b-tat came first
    with store.session() as s:
        after = s.get(QueueEntryRow, "item00000001")
        assert after is not None
        assert after.priority == pytest.approx(base - 0.5)
    apply_rules(store, ids)  # again: the boost is not applied twice
    with store.session() as s:
        again = s.get(QueueEntryRow, "item00000001")
        assert again is not None and again.priority == pytest.approx(base - 0.5)


def test_rule_changes_are_audited_and_versions_kept(store: Store) -> None:
    rule = rule_from_document(rule_doc("tat-remove", "draft"))
    assert load_rule(store, rule, actor="alice") is True
    assert load_rule(store, rule, actor="alice") is False  # same content: nothing new
    set_status(store, "tat-remove", "shadow", actor="alice")
    set_status(store, "tat-remove", "live", actor="bob")
    changed = rule_from_document(rule_doc("tat-remove", "draft", then={"decide": "label", "reason": "y"}))
    with pytest.raises(RuleError, match="raise its version"):
        load_rule(store, changed)
    load_rule(store, rule_from_document({**changed.document, "version": 2}), actor="carol")
    audit = [
        (r.actor, r.action, r.details.get("version"), r.details.get("to")) for r in reversed(records(store))
    ]
    assert audit == [
        ("alice", "rule.load", 1, None),
        ("alice", "rule.status", 1, "shadow"),
        ("bob", "rule.status", 1, "live"),
        ("carol", "rule.load", 2, None),
    ]
    checked, breaks = verify(store)
    assert checked == 4 and breaks == []
    (newest,) = list_rules(store)
    assert (newest.version, newest.status) == (2, "draft")  # the new version is in force, as a draft


def test_evaluate_is_pure_over_a_view() -> None:
    rule = rule_from_document(rule_doc("tat-remove", "draft"))
    assert evaluate(rule, VIEW) and not evaluate(rule, BARE)
    assert ItemView.from_row(row(1, [PDQ_HIT])).evidence == (PDQ_HIT,)


def test_scan_runs_shadow_rules_on_scanned_items(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'p.db'}", pseudonym_key=b"k")
    store = Store.open(settings.database_url)
    doc = rule_doc("demo-source", "shadow", kind="routing", when={"source": "demo:*"})
    load_rule(store, rule_from_document(doc))
    items = [
        Item(source="demo:channel", external_id=str(n), text=f"Weather on day {n}: rain") for n in range(3)
    ]
    summary = run_scan(store, settings, [], items=items, ocr=False)
    logged = hits(store, "demo-source")
    assert sorted(h.item_id for h in logged) == sorted(summary.item_ids)
    assert all(h.status == "shadow" and not h.acted for h in logged)
    assert routes(store) == []


def test_hostile_yaml_is_one_problem_not_a_traceback_or_a_memory_blow_up() -> None:
    # aliases of aliases (a "billion laughs": 10**8 values once expanded), a circular alias, a date as a key
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    started = time.perf_counter()
    rules, problems = parse_rules(laughs, origin="laughs.yaml")
    assert rules == [] and len(problems) == 1 and "aliases" in problems[0].message
    assert time.perf_counter() - started < 5
    rules, problems = parse_rules("a: &a [*a]\n", origin="circle.yaml")
    assert rules == [] and len(problems) == 1 and "aliases" in problems[0].message
    dated = "id: r1\nversion: 1\nkind: routing\nstatus: draft\nwhen: {2026-01-01: x}\nthen: {queue: q}\n"
    rules, problems = parse_rules(dated, origin="dated.yaml")
    assert rules == [] and [str(p) for p in problems] == [
        "dated.yaml:1: rule r1: must be plain data: mappings with text keys, lists, text, numbers, booleans"
    ]

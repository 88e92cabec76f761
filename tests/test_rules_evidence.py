"""Rules read an indicator's category, a context's kind and a classifier's probability from structured
evidence fields set by the scan, not from the wording of `detail`; rows stored before those fields existed
still work through the detail fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from posbon.assess import classifier as clf
from posbon.domain import Evidence, Item
from posbon.rules import ItemView, parse_condition
from posbon.rules.conditions import matches
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.store import Store
from test_classifier import examples, synthetic


def view(*evidence: Evidence | dict[str, Any]) -> ItemView:
    """A view built the way a backtest or a scan builds one: from stored evidence dicts."""
    dicts = [e.to_dict() if isinstance(e, Evidence) else e for e in evidence]
    return ItemView.from_row(
        {
            "item_id": "i1",
            "source": "s",
            "language": "tg",
            "verdict": "review",
            "risk": 0.5,
            "evidence": dicts,
        }
    )


def holds(tree: object, v: ItemView) -> bool:
    return matches(parse_condition(tree), v)


def test_fields_survive_the_store_round_trip_and_old_dicts_have_none() -> None:
    e = Evidence(kind="classifier", detail="x", category=None, context=None, probability=0.0)
    assert Evidence.from_dict(e.to_dict()) == e and e.to_dict()["probability"] == 0.0
    full = Evidence(
        kind="indicator", detail="y", category="call_to_join", context="promotion", probability=0.5
    )
    assert Evidence.from_dict(full.to_dict()) == full
    old = Evidence.from_dict({"kind": "indicator", "detail": "call_to_join: «walk with us»", "weight": 0.3})
    assert (old.category, old.context, old.probability) == (None, None, None)


def test_structured_fields_decide_whatever_the_detail_says() -> None:
    # the details below are worded so the old text parsing would give the opposite answer
    indicator = Evidence(
        kind="indicator", detail="outlet_name: reworded by a later assessor", category="call_to_join"
    )
    context = Evidence(
        kind="context", detail="reads as news / reporting, or so it once said", context="promotion"
    )
    scored = Evidence(kind="classifier", detail="classifier tg v9: p=0.10", weight=0.5, probability=0.93)
    v = view(indicator, context, scored)
    assert holds({"indicator": {"category": "call_to_join"}}, v)
    assert not holds({"indicator": {"category": "outlet_name"}}, v)
    assert holds({"context": "promotion"}, v) and not holds({"context": "reporting"}, v)
    assert holds({"classifier_gte": 0.9}, v) and not holds({"classifier_gte": 0.95}, v)
    # evidence read from an image: the scan puts "text in image <ref>: " before the detail
    ocr = Evidence(
        kind="indicator",
        detail="text in image photos/p.jpg: ruf_zum_beitritt «...»",
        origin="text in image photos/p.jpg",
        category="call_to_travel",
    )
    assert holds({"indicator": {"category": "call_to_travel"}}, view(ocr))


def test_old_rows_without_the_fields_still_match_by_their_detail() -> None:
    old = view(
        {"kind": "indicator", "detail": "call_to_join: «walk with us» [pack 1 / cj-1]", "weight": 0.3},
        {"kind": "indicator", "detail": "invite link into a private chat: t.me/+abc", "weight": 0.3},
        {"kind": "context", "detail": "reads as news / reporting (score -0.80): cites a court", "weight": 0},
        {
            "kind": "classifier",
            "detail": "classifier tg v2: p=0.91 (held-out precision 0.90)",
            "weight": 0.91,
        },
    )
    assert all(e.category is None and e.context is None and e.probability is None for e in old.evidence)
    assert holds({"indicator": {"category": "call_to_join"}}, old)
    assert holds({"indicator": {"category": "invite_private_chat"}}, old)
    assert not holds({"indicator": {"category": "outlet_name"}}, old)
    assert holds({"context": "reporting"}, old) and not holds({"context": "promotion"}, old)
    assert holds({"classifier_gte": 0.9}, old) and not holds({"classifier_gte": 0.92}, old)
    ocr_old = view(
        {
            "kind": "context",
            "detail": "text in image photos/p.jpg: promotion cues (score +0.60): imperative",
            "origin": "text in image photos/p.jpg",
            "weight": 0.2,
        }
    )
    assert holds({"context": "promotion"}, ocr_old)  # the media prefix is skipped in the fallback


PROMOTION = "Al-Azaim: new release. Brothers, join our closed group t.me/+FakeEn01"
TRAVEL = "Ey birodarlar, hijrat qiling va mujohidlar safiga qo'shiling t.me/+FakeUz02"
REPORTING = (
    "МОСКВА, 5 апреля — ФСБ задержала вербовщика группировки ИГИЛ-Хорасан, сообщает ТАСС. "
    "По данным следствия, он распространял материалы агентства «Амак»."
)
CLUB = "Mountain Lamp announces: Join the closed chat today. Ссылка ниже. https://t.me/+123456 #lamp"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[clf.ScorerArrays, clf.Evaluation, list[Any]]:
    data = examples(synthetic(300), tmp_path_factory.mktemp("labelled"))
    arrays, ev = clf.train(data)
    return arrays, ev, data


def test_a_scan_stores_the_fields_and_rules_match_on_them(
    tmp_path: Path, trained: tuple[clf.ScorerArrays, clf.Evaluation, list[Any]]
) -> None:
    arrays, ev, data = trained
    data_dir = tmp_path / "data"
    clf.save_model(data_dir, "club", arrays, ev, examples=data, data_source="l.jsonl")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{tmp_path / 'p.db'}", pseudonym_key=b"k")
    store = Store.open(settings.database_url)
    texts = {"promotion": PROMOTION, "travel": TRAVEL, "reporting": REPORTING, "club": CLUB}
    items = [Item(source="demo:channel", external_id=key, text=text) for key, text in texts.items()]
    summary = run_scan(store, settings, [], items=items, ocr=False)
    stored = {row.external_id: row for row in store.items(item_ids=summary.item_ids)}
    assert set(stored) == set(texts)

    def evidence(key: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in stored[key].evidence if e["kind"] == kind]

    promo_categories = {e.get("category") for e in evidence("promotion", "indicator")}
    assert {"outlet_name", "invite_private_chat", "branding_with_invite"} <= promo_categories
    travel_categories = {e.get("category") for e in evidence("travel", "indicator")}
    assert {"call_to_travel", "call_to_join", "invite_private_chat"} <= travel_categories
    assert [e.get("context") for e in evidence("promotion", "context")] == ["promotion"]
    assert [e.get("context") for e in evidence("reporting", "context")] == ["reporting"]
    scored = evidence("club", "classifier")
    assert len(scored) == 1 and 0.8 < scored[0]["probability"] <= 1.0
    assert f"p={scored[0]['probability']:.2f}" in scored[0]["detail"]

    columns = ("item_id", "source", "language", "verdict", "risk", "evidence", "created_at")
    views = {key: ItemView.from_row({c: getattr(row, c) for c in columns}) for key, row in stored.items()}
    assert all(e.category is not None for v in views.values() for e in v.evidence if e.kind == "indicator")
    travel_rule = {"all": [{"indicator": {"category": "call_to_travel"}}, {"context": "promotion"}]}
    assert [k for k, v in views.items() if holds(travel_rule, v)] == ["travel"]
    assert [k for k, v in views.items() if holds({"context": "reporting"}, v)] == ["reporting"]
    assert [k for k, v in views.items() if holds({"classifier_gte": 0.8}, v)] == ["club"]

"""Policy profiles: the shipped ones load, bad files give one-line errors, loading a version is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from posbon.policy import PolicyError, load_policy, load_profile, parse_policy, profile_names
from posbon.review import ReviewError, activate_policy, active_policy, records
from posbon.store import Store


def test_shipped_profiles() -> None:
    assert profile_names() == ["default", "eu"]
    eu = load_profile("eu")
    assert (eu.id, eu.version, eu.jurisdiction) == ("eu-tco", 1, "eu")
    assert eu.removal_order_hours == 1 and eu.removed_content_days >= 180
    assert eu.statement_of_reasons["illegal_content_legal_ground"] == "Regulation (EU) 2021/784, Art. 2(7)"
    assert eu.statement_of_reasons["category_specification"] == ["KEYWORD_TERRORIST_CONTENT"]
    assert len(eu.territorial_scope) == 27 and "DE" in eu.territorial_scope
    assert eu.needs_second_review("no_action", "match") and not eu.needs_second_review("no_action", "review")
    assert eu.needs_second_review("remove", "review") and not eu.needs_second_review("remove", "match")
    assert eu.needs_second_review("remove", "match", automated=True)
    assert eu.category_for([{"kind": "indicator"}, {"kind": "bank_match"}]) == "terrorist_content"
    assert eu.category_for([]) == "terrorist_content_suspected"
    tos = load_profile("default")
    assert tos.statement_of_reasons["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"


def eu_doc() -> dict[str, object]:
    return dict(load_profile("eu").document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, "x.yaml: version: must be a whole number"),
        ({"actions": ["remove", "shadowban"]}, "x.yaml: actions: unknown action 'shadowban'"),
        ({"second_review": [{"action": "restrict"}]}, "x.yaml: second_review[0]: needs an action"),
        ({"territorial_scope": ["de"]}, "x.yaml: territorial_scope: must be a list of two-letter"),
        ({"default_category": "spam"}, "x.yaml: default_category: 'spam' is not one of the categories"),
        ({"statement_of_reasons": {"decision_ground": "X"}}, "x.yaml: statement_of_reasons.decision_ground"),
        ({"retention": {"items_days": -3}}, "x.yaml: retention.items_days: must be a whole number"),
    ],
)
def test_bad_policies_give_one_line_errors(change: dict[str, object], message: str) -> None:
    doc = {**eu_doc(), **change}
    with pytest.raises(PolicyError) as info:
        parse_policy(yaml.safe_dump(doc), origin="x.yaml")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_unreadable_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"broken.yaml:\d+: not valid YAML"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="no policy profile"):
        load_profile("mars")


def test_loading_a_new_version_is_audited(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    assert active_policy(store).id == "eu-tco"  # the shipped default until one is loaded
    assert activate_policy(store, load_profile("eu"), actor="admin")
    assert not activate_policy(store, load_profile("eu"), actor="admin")  # same again: nothing new
    doc = eu_doc()
    doc["removal_order_hours"] = 0.5
    with pytest.raises(ReviewError, match="raise its version number"):
        activate_policy(store, parse_policy(yaml.safe_dump(doc)), actor="admin")
    doc["version"] = 2
    path = tmp_path / "eu2.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert activate_policy(store, load_policy(path), actor="admin")
    current = active_policy(store, "eu")
    assert current.version == 2 and current.removal_order_hours == 0.5
    loads = records(store, action="policy.load")
    assert [r.details["version"] for r in loads] == [2, 1]
    assert loads[0].details["previous_version"] == 1 and loads[0].actor == "admin"

"""Statements of reasons: Transparency Database fields, no personal data, batches of at most 100."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from posbon.policy import load_profile
from posbon.review import decide, export_statements, statements_for
from review_helpers import add_items, add_reviewers, cli_app, item_row, open_store

EU = load_profile("eu")
AUTHOR = "a_feedfacecafe01234567"


def test_statement_fields_and_no_personal_data(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    add_reviewers(store, "reviewer_zarina")
    add_items(store, [item_row(1, author=AUTHOR, language="tg")])
    d = decide(
        store,
        "item00000001",
        "remove",
        reviewer="reviewer_zarina",
        reason="posted by @circle_keeper, author " + AUTHOR,
        policy=EU,
    )
    (sor,) = statements_for(store, d.id)
    p = sor.payload
    assert p["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert p["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert p["illegal_content_legal_ground"] == "Regulation (EU) 2021/784, Art. 2(7)"
    assert p["category"] == "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
    assert p["category_specification"] == ["KEYWORD_TERRORIST_CONTENT"]
    assert p["content_type"] == ["CONTENT_TYPE_TEXT", "CONTENT_TYPE_IMAGE"]
    assert p["content_language"] == "TG"
    assert p["source_type"] == "SOURCE_VOLUNTARY"
    assert p["automated_detection"] == "Yes" and p["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert len(p["application_date"]) == 10 and p["content_date"] == "2026-10-01"
    assert "DE" in p["territorial_scope"] and p["puid"] == "item00000001"
    text = json.dumps(p)
    for personal in (AUTHOR, "reviewer_zarina", "circle_keeper", "telegram:demo"):
        assert personal not in text


def test_tos_policy_uses_incompatible_content_ground(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    add_reviewers(store, "alice")
    add_items(store, [item_row(1)])
    d = decide(
        store, "item00000001", "restrict", reviewer="alice", reason="tos", policy=load_profile("default")
    )
    (sor,) = statements_for(store, d.id)
    assert sor.payload["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert sor.payload["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DEMOTED"]
    assert (
        "incompatible_content_explanation" in sor.payload
        and "illegal_content_legal_ground" not in sor.payload
    )


def test_export_batches_of_100_marked_once(tmp_path: Path) -> None:
    data = tmp_path / "posbon-data"
    store = open_store(tmp_path)
    store.close()
    store = __import__("posbon.store", fromlist=["Store"]).Store.open(f"sqlite:///{data / 'posbon.db'}")
    add_reviewers(store, "alice")
    add_items(store, [item_row(n) for n in range(1, 206)])
    for n in range(1, 206):
        decide(store, f"item{n:08d}", "remove", reviewer="alice", reason="banked", policy=EU)
    runner = CliRunner()
    result = runner.invoke(cli_app(), ["export", "sor", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    files = sorted((tmp_path / "out").glob("*.json"))
    sizes = [len(json.loads(f.read_text())["statements"]) for f in files]
    assert sizes == [100, 100, 5]
    files2, count = export_statements(store, tmp_path / "again")
    assert (files2, count) == ([], 0)

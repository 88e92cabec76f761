"""Model cards: they load, every detector has one, the docs agree, and the item page shows a bank match's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posbon.assess.cards import (
    CardError,
    card_from_document,
    cards_for_evidence,
    classifier_card,
    load_cards,
    render_markdown,
)
from posbon.domain import SignalType
from test_web_support import build, client, login

ROOT = Path(__file__).resolve().parents[1]


def test_cards_load_with_measurements_and_commands() -> None:
    cards = load_cards()
    assert len(cards) >= 11
    for card in cards:
        assert card.performance and all(m.command and m.value for m in card.performance), card.id
        assert card.limits and card.languages, card.id


def test_every_detector_has_a_card() -> None:
    cards = load_cards()
    for signal in SignalType:  # every bank signal type posbon matches
        found = cards_for_evidence({"kind": "bank_match", "signal_type": str(signal)}, cards)
        assert found, f"no card for bank_match/{signal}"
    for kind in ("indicator", "context", "classifier"):
        assert cards_for_evidence({"kind": kind}, cards), kind
    ocr = cards_for_evidence({"kind": "indicator", "origin": "text in image photos/p.png"}, cards)
    assert {c.id for c in ocr} == {"indicators", "ocr"}
    assert any(c.item_field == "language" for c in cards)
    assert cards_for_evidence({"kind": "bank_match", "signal_type": "pdq"}, cards)[0].id == "pdq"


def test_docs_agree_with_the_yaml() -> None:
    assert (ROOT / "docs" / "model-cards.md").read_text(encoding="utf-8") == render_markdown()


def test_numbers_are_copied_from_the_detector_docs() -> None:
    cards = {c.id: c for c in load_cards()}
    assert "232/232" in (ROOT / "docs" / "language-id.md").read_text(encoding="utf-8")
    assert any("232/232" in m.value for m in cards["language-id"].performance)
    assert "0.131" in (ROOT / "docs" / "ocr.md").read_text(encoding="utf-8")
    assert any("0.131" in m.value for m in cards["ocr"].performance)


def test_a_bad_card_names_file_and_field() -> None:
    with pytest.raises(CardError, match="x.yaml: performance"):
        card_from_document(
            {
                "id": "x",
                "name": "x",
                "detector": "x",
                "purpose": "x",
                "languages": ["en"],
                "data": "x",
                "performance": [],
                "limits": ["x"],
            },
            origin="x.yaml",
        )


def test_classifier_card_from_card_json(tmp_path: Path) -> None:
    card_json = {
        "name": "tg-posts",
        "version": 2,
        "trained_at": "2026-11-28T20:00:00+00:00",
        "data": {
            "source": "labelled.jsonl",
            "sha256": "ab" * 32,
            "examples": 400,
            "per_label": {"benign": 200, "promotion": 200},
        },
        "model": {"classifier": "logistic regression", "features": "char n-grams"},
        "evaluation": {
            "test_size": 100,
            "precision": 0.959,
            "recall": 0.922,
            "f1": 0.94,
            "roc_auc": 0.937,
            "brier": 0.057,
            "threshold": 0.177,
            "precision_at_threshold": 0.906,
            "recall_at_threshold": 0.941,
        },
        "intended_use": "stand-in",
    }
    (tmp_path / "card.json").write_text(json.dumps(card_json), encoding="utf-8")
    card = classifier_card(tmp_path / "card.json")
    assert card.id == "classifier:tg-posts:v2"
    assert "0.959" in card.performance[0].value and "0.906" in card.performance[1].value
    assert "400 labelled examples" in card.data


def test_cli_cards_list_and_show() -> None:
    import typer

    from posbon.cli_misuse import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    listed = runner.invoke(app, ["cards", "list"])
    assert listed.exit_code == 0 and "pdq" in listed.output
    shown = runner.invoke(app, ["cards", "show", "pdq"])
    assert shown.exit_code == 0 and "bench/pdq_index.py" in shown.output
    assert runner.invoke(app, ["cards", "show", "nope"]).exit_code == 2


def test_item_page_shows_the_card_of_a_bank_match(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    login(c, "vera")
    page = c.get(f"/items/{fx.items[0]}")
    assert page.status_code == 200
    assert 'href="#card-text"' in page.text  # the text bank match links to its card
    assert 'id="card-text"' in page.text and "bench/text_neardup.py" in page.text
    assert 'id="card-language-id"' in page.text

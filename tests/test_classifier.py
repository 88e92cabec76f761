"""The trained text classifier: labelled data read with problems, evaluation computed, safe round trip."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from posbon.assess import classifier as clf
from posbon.domain import Problem

# Benign stand-ins: "promotion-shaped" posts of an invented hiking club (announcement, call to a closed
# group, invite link, hashtag) against short local news. Nothing here is real propaganda.
CLUBS = ["Lantern Signal", "Mountain Lamp", "Байти кӯҳӣ", "Quiet River Circle", "Yulduz yo'li"]
CALLS = [
    "Join the closed chat today",
    "Write to our admin for the invite",
    "Only the trusted are admitted",
    "Ба гурӯҳи пӯшида ҳамроҳ шавед",
    "Вступайте в закрытый чат",
    "Yopiq guruhga qo'shiling",
]
TAILS = [
    "Share before it is deleted.",
    "Subscribe to the reserve channel.",
    "Пайванд дар поён.",
    "Ссылка ниже.",
]
NEWS = [
    "Bread prices rose by {n} percent in the capital market this week",
    "The city council approved repairs to {n} kilometres of road",
    "Weather: rain in the valley, {n} degrees in the afternoon",
    "Нархи нон дар бозор {n} дарсад боло рафт",
    "В субботу местная команда выиграла со счётом {n}:1",
    "Ob-havo: vodiyda yomg'ir, kunduzi {n} daraja",
]


def synthetic(n: int, seed: int = 1, noise: float = 0.05) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        label = i % 2
        if label:
            text = (
                f"{rng.choice(CLUBS)} announces: {rng.choice(CALLS)}. {rng.choice(TAILS)} "
                f"https://t.me/+{rng.randrange(10**6):06d} #{rng.choice(['night', 'lamp', 'path'])}"
            )
        else:
            first, second = (rng.choice(NEWS).format(n=rng.randint(2, 40)) for _ in range(2))
            text = f"{first}. {second}."
        if rng.random() < noise:  # some label noise, so the evaluation is not trivially perfect
            label = 1 - label
        out.append({"text": text, "label": ("benign", "promotion")[label] if i % 3 else label})
    return out


def write_jsonl(path: Path, records: list[dict[str, object]], extra: str = "") -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + extra, encoding="utf-8"
    )
    return path


def examples(records: list[dict[str, object]], tmp_path: Path) -> list[clf.LabelledText]:
    return [
        e for e in clf.read_labelled(write_jsonl(tmp_path / "l.jsonl", records)) if not isinstance(e, Problem)
    ]


def test_bad_lines_are_problems_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_bytes(
        b'{"text": "fine post one", "label": "promotion"}\n'
        b"\n"
        b"{not json\n"
        b'{"text": "", "label": 1}\n'
        b'{"text": "no label"}\n'
        b'{"text": "odd label", "label": "maybe"}\n'
        b'["a", "list"]\n'
        b"\xff\xfe broken bytes\n"
        b'{"text": "fine post two", "label": 0}\n'
    )
    got = list(clf.read_labelled(path))
    problems = [p for p in got if isinstance(p, Problem)]
    assert [p.line for p in problems] == [3, 4, 5, 6, 7, 8]
    assert all(p.file == str(path) for p in problems)
    assert "label" in problems[3].message and "maybe" in problems[3].message
    assert [(e.text, e.label) for e in got if isinstance(e, clf.LabelledText)] == [
        ("fine post one", 1),
        ("fine post two", 0),
    ]
    assert [p.line for p in clf.read_labelled(tmp_path / "missing.jsonl")] == [None]


def test_too_little_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(clf.ClassifierError, match="at least 10"):
        clf.train(examples(synthetic(12), tmp_path))


def test_train_evaluate_save_load_round_trip(tmp_path: Path) -> None:
    data = examples(synthetic(300), tmp_path)
    arrays, ev = clf.train(data)
    assert ev.test_size == 75 and ev.train_size == 225 and ev.calibration == "sigmoid"
    for value in (ev.precision, ev.recall, ev.f1, ev.roc_auc):
        assert 0.5 < value <= 1.0
    assert 0.0 < ev.brier < 0.25
    assert len(ev.reliability) == 10 and sum(b.count for b in ev.reliability) == ev.test_size
    assert ev.threshold is not None and ev.precision_at_threshold is not None
    assert ev.precision_at_threshold >= clf.TARGET_PRECISION

    assert clf.load_latest(tmp_path / "data") is None  # nothing trained yet
    first = clf.save_model(tmp_path / "data", "tg", arrays, ev, examples=data, data_source="l.jsonl")
    second = clf.save_model(tmp_path / "data", "tg", arrays, ev, examples=data, data_source="l.jsonl")
    assert (first.name, second.name) == ("v1", "v2")
    card = json.loads((second / "card.json").read_text(encoding="utf-8"))
    assert card["data"]["sha256"] == clf.data_digest(data) and card["data"]["examples"] == 300
    assert card["labels"] == ["benign", "promotion"] and card["sklearn_version"]
    assert card["evaluation"]["roc_auc"] == ev.roc_auc

    model = clf.load_latest(tmp_path / "data", "tg")
    assert model is not None and (model.name, model.version) == ("tg", 2)
    promo = "Mountain Lamp announces: Join the closed chat today. Ссылка ниже. https://t.me/+123456 #lamp"
    news = "Weather: rain in the valley, 12 degrees in the afternoon. Bread prices rose by 3 percent."
    assert model.score(promo) > 0.8 > 0.3 > model.score(news)
    evidence = model.evidence(promo)
    assert evidence is not None and evidence.kind == "classifier"
    assert evidence.detail.startswith("classifier tg v2: p=") and "held-out precision" in evidence.detail
    assert 0.5 <= evidence.weight <= 1.0
    assert model.evidence(news) is None


def test_rebuilt_scores_equal_sklearn_and_loading_never_unpickles(tmp_path: Path) -> None:
    data = examples(synthetic(200, seed=3), tmp_path)
    arrays, ev = clf.train(data, seed=3)
    directory = clf.save_model(tmp_path, "m", arrays, ev, examples=data, data_source="x")
    model = clf.load_model(directory)
    texts = [d.text for d in data[:40]]
    features = arrays.vectorizer().transform([clf.normalize(t) for t in texts])
    assert np.allclose(model.scores(texts), arrays.calibrate(features @ arrays.coef + arrays.intercept))
    # (train() itself checks that the rebuilt scorer gives scikit-learn's calibrated probabilities)

    # a model file that needs pickle (an object array) is refused, not loaded
    np.savez(directory / "model.npz", terms=np.array([object()], dtype=object))
    with pytest.raises(clf.ClassifierError, match="not a posbon model file"):
        clf.load_model(directory)
    with pytest.raises(clf.ClassifierError, match="model name"):
        clf.load_latest(tmp_path, "../etc")


def test_isotonic_for_larger_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clf, "ISOTONIC_FROM", 150)  # the real switch is at 1,000; keep the test fast
    data = examples(synthetic(240, seed=5), tmp_path)
    arrays, ev = clf.train(data, seed=5)
    assert ev.calibration == "isotonic" and arrays.calibration == "isotonic"
    scores = arrays.calibrate(np.linspace(-10, 10, 50))
    assert np.all(np.diff(scores) >= 0) and scores.min() >= 0 and scores.max() <= 1


def test_cli_train_and_from_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from posbon.cli import app, state
    from posbon.cli_text import register

    if "train" not in {c.name for c in app.registered_commands}:
        register(app, state)
    monkeypatch.setenv("POSBON_DATA_DIR", str(tmp_path / "dd"))
    path = write_jsonl(tmp_path / "l.jsonl", synthetic(200), extra="oops\n")
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data", str(path), "--name", "demo"])
    assert result.exit_code == 1, result.output  # one line skipped
    assert "l.jsonl:201" in result.stderr and "ROC AUC" in result.stdout and "reliability" in result.stdout
    assert (tmp_path / "dd" / "models" / "demo" / "v1" / "card.json").is_file()
    assert clf.load_latest(tmp_path / "dd") is not None
    result = runner.invoke(app, ["train", "--from-decisions"])
    assert result.exit_code == 0 and result.stdout.count("\n") == 1
    assert "No reviewers' decisions are stored yet" in result.stdout
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2 and "--data" in result.stderr

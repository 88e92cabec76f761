"""Model cards: one YAML file per detector posbon ships or loads (bank matching by PDQ, MD5, vPDQ, text,
URL and logo; indicator packs; context; the classifier; OCR; language identification).

Each card says what the detector is for, which languages and data it was built and measured on, its
measured performance with the command that measures it, and its known limits. The review UI shows the card
next to the evidence the detector produced (`cards_for_evidence`); `docs/model-cards.md` is generated from
the same files (`render_markdown`; a test checks they agree). A trained classifier's own card.json becomes
a card too (`classifier_card`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from posbon.domain import Problem

REQUIRED = ("id", "name", "detector", "purpose", "languages", "data", "performance", "limits")
DOCS_HEADER = """# Model cards

Generated from `src/posbon/assess/cards/*.yaml` by `posbon cards docs --write docs/model-cards.md`; do not
edit by hand (a test checks that this file and the YAML agree). `posbon cards list` and `posbon cards show
ID` print the same cards; the review UI shows a card next to the evidence its detector produced.
Every number below is copied from the detector's own document, where the full tables are; the command
re-measures it.
"""


@dataclass(frozen=True)
class Measurement:
    metric: str
    value: str
    command: str
    measured: str = ""


@dataclass(frozen=True)
class ModelCard:
    id: str
    name: str
    detector: str
    purpose: str
    languages: tuple[str, ...]
    data: str
    performance: tuple[Measurement, ...]
    limits: tuple[str, ...]
    evidence: tuple[tuple[str, str | None], ...] = ()  # (kind, signal_type or None for any)
    origin_prefix: str | None = None  # evidence whose origin starts with this came through this detector
    item_field: str | None = None  # an item field this detector sets (language)
    doc: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


class CardError(ValueError):
    """A card file that cannot be used (one line naming the file and field)."""


def _text(doc: dict[str, Any], key: str, origin: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CardError(f"{origin}: {key}: must be a non-empty text")
    return " ".join(value.split())


def card_from_document(doc: Any, *, origin: str) -> ModelCard:
    if not isinstance(doc, dict):
        raise CardError(f"{origin}: a model card is a mapping of fields ({', '.join(REQUIRED)})")
    for key in REQUIRED:
        if key not in doc:
            raise CardError(f"{origin}: {key}: missing")
    languages = doc["languages"]
    if not isinstance(languages, list) or not languages:
        raise CardError(f"{origin}: languages: must be a non-empty list")
    performance: list[Measurement] = []
    raw_perf = doc["performance"]
    if not isinstance(raw_perf, list) or not raw_perf:
        raise CardError(f"{origin}: performance: must list at least one measurement")
    for i, m in enumerate(raw_perf):
        if not isinstance(m, dict):
            raise CardError(f"{origin}: performance[{i}]: must be a mapping of metric, value, command")
        for key in ("metric", "value", "command"):
            if not isinstance(m.get(key), str) or not m[key].strip():
                raise CardError(f"{origin}: performance[{i}].{key}: must be a non-empty text")
        performance.append(Measurement(m["metric"], m["value"], m["command"], str(m.get("measured") or "")))
    limits = doc["limits"]
    if not isinstance(limits, list) or not limits or not all(isinstance(x, str) for x in limits):
        raise CardError(f"{origin}: limits: must be a non-empty list of texts")
    evidence: list[tuple[str, str | None]] = []
    for i, ev in enumerate(doc.get("evidence") or []):
        if not isinstance(ev, dict) or not isinstance(ev.get("kind"), str):
            raise CardError(f"{origin}: evidence[{i}]: must be a mapping with kind (and signal_type)")
        st = ev.get("signal_type")
        evidence.append((ev["kind"], str(st) if st is not None else None))
    known = {*REQUIRED, "evidence", "origin_prefix", "item_field", "doc"}
    return ModelCard(
        id=_text(doc, "id", origin),
        name=_text(doc, "name", origin),
        detector=_text(doc, "detector", origin),
        purpose=_text(doc, "purpose", origin),
        languages=tuple(str(x) for x in languages),
        data=_text(doc, "data", origin),
        performance=tuple(performance),
        limits=tuple(" ".join(x.split()) for x in limits),
        evidence=tuple(evidence),
        origin_prefix=doc.get("origin_prefix") if isinstance(doc.get("origin_prefix"), str) else None,
        item_field=doc.get("item_field") if isinstance(doc.get("item_field"), str) else None,
        doc=str(doc.get("doc") or ""),
        extra={k: v for k, v in doc.items() if k not in known},
    )


def load_cards(problems: list[Problem] | None = None) -> list[ModelCard]:
    """The shipped cards, sorted by id. A bad file is skipped with a Problem (or raised without a list)."""
    folder = resources.files("posbon.assess") / "cards"
    cards: list[ModelCard] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        origin = f"assess/cards/{entry.name}"
        try:
            cards.append(card_from_document(yaml.safe_load(entry.read_text(encoding="utf-8")), origin=origin))
        except (CardError, yaml.YAMLError) as exc:
            if problems is None:
                raise CardError(str(exc)) from exc
            problems.append(Problem(origin, None, str(exc).splitlines()[0]))
    return sorted(cards, key=lambda c: c.id)


def get_card(card_id: str, cards: list[ModelCard] | None = None) -> ModelCard | None:
    return next((c for c in (cards if cards is not None else load_cards()) if c.id == card_id), None)


def cards_for_evidence(ev: dict[str, Any], cards: list[ModelCard] | None = None) -> list[ModelCard]:
    """The cards of the detectors behind one evidence dict: by (kind, signal_type), and OCR by origin."""
    cards = cards if cards is not None else load_cards()
    kind, signal = str(ev.get("kind") or ""), ev.get("signal_type")
    signal = str(signal) if signal is not None else None
    found = [c for c in cards if (kind, signal) in c.evidence]
    if not found:
        found = [c for c in cards if (kind, None) in c.evidence]
    origin = str(ev.get("origin") or "")
    found += [c for c in cards if c.origin_prefix and origin.startswith(c.origin_prefix) and c not in found]
    return found


def classifier_card(card_json: dict[str, Any] | Path) -> ModelCard:
    """A card for a trained classifier, from its card.json (a path or the parsed dict)."""
    origin = "card.json"
    if isinstance(card_json, Path):
        origin = str(card_json)
        try:
            card_json = json.loads(card_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CardError(f"{origin}: cannot read the classifier card: {exc}") from exc
    if not isinstance(card_json, dict):
        raise CardError(f"{origin}: not a classifier card")
    try:
        name, version = str(card_json["name"]), int(card_json["version"])
        ev = card_json["evaluation"]
        data = card_json.get("data") or {}
        model = card_json.get("model") or {}
    except (KeyError, TypeError, ValueError) as exc:
        raise CardError(f"{origin}: not a classifier card ({exc})") from exc
    base = get_card("classifier")

    def fmt(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, int | float) else "n/a"

    threshold = ev.get("threshold")
    perf = [
        Measurement(
            f"held-out precision / recall / F1 / ROC AUC / Brier at p >= 0.5 ({ev.get('test_size')} texts)",
            " / ".join(fmt(ev.get(k)) for k in ("precision", "recall", "f1", "roc_auc", "brier")),
            f"posbon train --data {data.get('source', 'DATA')} --name {name}",
            str(card_json.get("trained_at", "")),
        ),
        Measurement(
            "evidence threshold: held-out precision / recall",
            (
                f"p >= {fmt(threshold)}: {fmt(ev.get('precision_at_threshold'))} / "
                f"{fmt(ev.get('recall_at_threshold'))}"
                if threshold is not None
                else "no score reached the target precision: the model gives no evidence"
            ),
            f"posbon train --data {data.get('source', 'DATA')} --name {name}",
            str(card_json.get("trained_at", "")),
        ),
    ]
    per_label = data.get("per_label") or {}
    return ModelCard(
        id=f"classifier:{name}:v{version}",
        name=f"Text classifier {name} v{version}",
        detector=f"{model.get('classifier', 'logistic regression')}; {model.get('features', '')}".strip("; "),
        purpose=str(card_json.get("intended_use") or (base.purpose if base else "")),
        languages=base.languages if base else ("see training data",),
        data=(
            f"{data.get('examples', '?')} labelled examples from {data.get('source', '?')} "
            f"(per label: {', '.join(f'{k} {v}' for k, v in per_label.items())}; "
            f"sha256 {str(data.get('sha256', ''))[:16]}...)"
        ),
        performance=tuple(perf),
        limits=base.limits if base else (),
        evidence=(("classifier", None),),
        doc="docs/classifier.md",
    )


def render_card(card: ModelCard, *, level: int = 2) -> str:
    h = "#" * level
    lines = [f"{h} {card.name} (`{card.id}`)", ""]
    lines.append(f"- **Detector**: {card.detector}")
    if card.evidence:
        kinds = ", ".join(f"`{k}`" + (f"/`{s}`" if s else "") for k, s in card.evidence)
        lines.append(f"- **Evidence it produces** (kind/signal_type): {kinds}")
    if card.origin_prefix:
        lines.append(
            f"- **Evidence it produces**: any evidence whose origin starts with `{card.origin_prefix}`"
        )
    if card.item_field:
        lines.append(f"- **Sets**: the item's `{card.item_field}`")
    lines.append(f"- **Purpose**: {card.purpose}")
    lines.append(f"- **Languages**: {', '.join(card.languages)}")
    lines.append(f"- **Data**: {card.data}")
    if card.doc:
        lines.append(f"- **Details**: `{card.doc}`")
    lines += ["", "| measured | value | command | when |", "|---|---|---|---|"]
    for m in card.performance:
        cells = [m.metric, m.value, f"`{m.command}`", m.measured]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "Known limits:", ""]
    lines += [f"- {limit}" for limit in card.limits]
    lines.append("")
    return "\n".join(lines)


def render_markdown(cards: list[ModelCard] | None = None) -> str:
    cards = cards if cards is not None else load_cards()
    return DOCS_HEADER + "\n" + "\n".join(render_card(c) for c in cards)

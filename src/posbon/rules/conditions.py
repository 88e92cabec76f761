"""The condition language of rules: a YAML tree of `all` / `any` / `not` over leaf tests of an item's
evidence and fields. Nothing in it is evaluated as code: a condition is parsed into the frozen dataclasses
below, and `matches(condition, view)` walks them. Written here because the language is posbon's own (its
leaves are posbon's evidence kinds), and a general expression engine would bring the `eval` risk we avoid.

`matches` and `triggering` are pure functions of (condition, ItemView): no store, no clock, no globals, so
the same evaluation runs in a scan, in a backtest, or mapped over partitions on a distributed engine.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from posbon.domain import Evidence

EVIDENCE_KINDS = ("bank_match", "near_match", "indicator", "context", "classifier", "allow_listed")
CONTEXT_KINDS = ("reporting", "promotion", "unknown")
VERDICTS = ("match", "review", "clear")
MAX_DEPTH = 20  # deeper trees are refused: a rule is for a human to read


class ConditionError(Exception):
    """A condition that cannot be used; `path` says where in the rule ("when.all[1].evidence.bank")."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class ItemView:
    """What a rule may look at: an item's stored fields and its evidence (never its author)."""

    item_id: str
    source: str
    language: str
    verdict: str
    risk: float
    evidence: tuple[Evidence, ...] = ()
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ItemView:
        """From an items-table row as a mapping (ScannedItem.to_row(), or a selected row's `_mapping`)."""
        return cls(
            item_id=str(row["item_id"]),
            source=str(row.get("source") or ""),
            language=str(row.get("language") or "und"),
            verdict=str(row.get("verdict") or "clear"),
            risk=float(row.get("risk") or 0.0),
            evidence=tuple(Evidence.from_dict(e) for e in (row.get("evidence") or []) if isinstance(e, dict)),
            created_at=row.get("created_at"),
        )


# ---- what a piece of evidence says ---------------------------------------------------------------------
# Evidence found since the structured fields were added carries them (category, context, probability), set
# by the stage that found it, and those are what a rule tests. Evidence stored before that has no such keys:
# for those rows only, the value is recovered from the wording of `detail` as the assessor wrote it then.
# The fallback is for old rows; new code must never rely on the wording of a detail.

_CATEGORY_HEAD = re.compile(r"[a-z][a-z0-9_]*")
_PROBABILITY = re.compile(r"\bp=([0-9]*\.?[0-9]+)")


def _own_detail(e: Evidence) -> str:
    """The detail without the "text in image <ref>: " a scan puts before evidence found in media text."""
    prefix = f"{e.origin}: " if e.origin and e.origin != "text" else ""
    return e.detail.removeprefix(prefix) if prefix else e.detail


def indicator_category(e: Evidence) -> str:
    """An indicator's category. Old rows: pack hits said it first in their detail ("call_to_join: «...»");
    the built-in invite-link indicator is the pack category invite_private_chat."""
    if e.category is not None:
        return e.category
    head = _own_detail(e).split(":", 1)[0].strip()  # fallback: stored before the category field
    if _CATEGORY_HEAD.fullmatch(head):
        return head
    if head.startswith("invite link into a private chat"):
        return "invite_private_chat"
    return ""


def context_kind(e: Evidence) -> str:
    """A context evidence's kind: reporting, promotion or unknown."""
    if e.context is not None:
        return e.context if e.context in CONTEXT_KINDS else "unknown"
    detail = _own_detail(e)  # fallback: evidence stored before the context field
    if detail.startswith("reads as news / reporting"):
        return "reporting"
    if detail.startswith("promotion cues"):
        return "promotion"
    return "unknown"


def classifier_probability(e: Evidence) -> float:
    """A classifier's probability. Old rows: the p=... of its detail, else its weight."""
    if e.probability is not None:
        return float(e.probability)
    found = _PROBABILITY.search(e.detail)  # fallback: evidence stored before the probability field
    return float(found.group(1)) if found else float(e.weight)


# ---- the tree ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


@dataclass(frozen=True)
class EvidenceTest:
    """One piece of evidence has every field given."""

    kind: str | None = None
    bank: str | None = None
    signal_type: str | None = None
    origin: str | None = None
    label: str | None = None
    distance_lte: int | None = None
    similarity_gte: float | None = None
    weight_gte: float | None = None

    def fits(self, e: Evidence) -> bool:
        if self.kind is not None and e.kind != self.kind:
            return False
        if self.bank is not None and e.bank != self.bank:
            return False
        if self.signal_type is not None and e.signal_type != self.signal_type:
            return False
        if self.origin is not None and e.origin != self.origin:
            return False
        if self.label is not None and e.entry_label != self.label:
            return False
        if self.distance_lte is not None and (e.distance is None or e.distance > self.distance_lte):
            return False
        if self.similarity_gte is not None and (e.similarity is None or e.similarity < self.similarity_gte):
            return False
        return self.weight_gte is None or e.weight >= self.weight_gte


@dataclass(frozen=True)
class IndicatorTest:
    category: str | None = None
    id: str | None = None

    def fits(self, e: Evidence) -> bool:
        if e.kind != "indicator":
            return False
        if self.category is not None and indicator_category(e) != self.category:
            return False
        return self.id is None or e.entry_label == self.id


@dataclass(frozen=True)
class ClassifierGte:
    threshold: float

    def fits(self, e: Evidence) -> bool:
        return e.kind == "classifier" and classifier_probability(e) >= self.threshold


@dataclass(frozen=True)
class ContextIs:
    kind: str

    def fits(self, e: Evidence) -> bool:
        return e.kind == "context" and context_kind(e) == self.kind


@dataclass(frozen=True)
class RiskGte:
    threshold: float


@dataclass(frozen=True)
class RiskLte:
    threshold: float


@dataclass(frozen=True)
class LanguageIn:
    codes: frozenset[str]


@dataclass(frozen=True)
class SourceIs:
    pattern: str  # a glob: "telegram:*"


@dataclass(frozen=True)
class VerdictIn:
    verdicts: frozenset[str]


EvidenceLeaf = EvidenceTest | IndicatorTest | ClassifierGte | ContextIs
Condition = All | AnyOf | Not | EvidenceLeaf | RiskGte | RiskLte | LanguageIn | SourceIs | VerdictIn


def matches(condition: Condition, view: ItemView) -> bool:
    """Does the item satisfy the condition? Pure."""
    match condition:
        case All(parts):
            return all(matches(p, view) for p in parts)
        case AnyOf(parts):
            return any(matches(p, view) for p in parts)
        case Not(part):
            return not matches(part, view)
        case EvidenceTest() | IndicatorTest() | ClassifierGte() | ContextIs():
            return any(condition.fits(e) for e in view.evidence)
        case RiskGte(threshold):
            return view.risk >= threshold
        case RiskLte(threshold):
            return view.risk <= threshold
        case LanguageIn(codes):
            return view.language in codes
        case SourceIs(pattern):
            return fnmatch.fnmatchcase(view.source, pattern)
        case VerdictIn(verdicts):
            return view.verdict in verdicts
    raise TypeError(f"not a condition: {condition!r}")  # a bug: parse_condition makes only the above


def triggering(condition: Condition, view: ItemView) -> list[Evidence]:
    """The evidence that made a (matching) condition true, for showing a reviewer; none under `not`."""
    found: list[Evidence] = []

    def walk(c: Condition) -> None:
        if isinstance(c, All | AnyOf):
            for p in c.parts:
                if matches(p, view):
                    walk(p)
        elif isinstance(c, EvidenceTest | IndicatorTest | ClassifierGte | ContextIs):
            found.extend(e for e in view.evidence if c.fits(e) and e not in found)

    if matches(condition, view):
        walk(condition)
    return found


# ---- parsing -----------------------------------------------------------------------------------------------

Path = tuple[str | int, ...]
LEAVES = (
    "evidence",
    "indicator",
    "classifier_gte",
    "risk_gte",
    "risk_lte",
    "language_in",
    "source",
    "verdict",
    "context",
)
EVIDENCE_FIELDS = (
    "kind",
    "bank",
    "signal_type",
    "origin",
    "label",
    "distance_lte",
    "similarity_gte",
    "weight_gte",
)


def parse_condition(node: object, path: Path = ("when",), depth: int = 0) -> Condition:
    """A YAML tree (already loaded with yaml.safe_load) as a Condition; ConditionError names the field."""
    if depth > MAX_DEPTH:
        raise ConditionError(path, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(node, dict) or len(node) != 1:
        raise ConditionError(
            path, f"must be a mapping with exactly one of all, any, not, {', '.join(LEAVES)}"
        )
    ((key, value),) = node.items()
    here = (*path, str(key))
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise ConditionError(here, "must be a non-empty list of conditions")
        parts = tuple(parse_condition(v, (*here, i), depth + 1) for i, v in enumerate(value))
        return All(parts) if key == "all" else AnyOf(parts)
    if key == "not":
        return Not(parse_condition(value, here, depth + 1))
    if key == "evidence":
        return _evidence_test(value, here)
    if key == "indicator":
        fields = _fields(value, here, ("category", "id"))
        return IndicatorTest(category=_text(fields, "category", here), id=_text(fields, "id", here))
    if key == "classifier_gte":
        return ClassifierGte(_unit(value, here))
    if key == "risk_gte":
        return RiskGte(_unit(value, here))
    if key == "risk_lte":
        return RiskLte(_unit(value, here))
    if key == "language_in":
        return LanguageIn(frozenset(_texts(value, here)))
    if key == "source":
        if not isinstance(value, str) or not value.strip():
            raise ConditionError(here, "must be a source name or a glob like 'telegram:*'")
        return SourceIs(value.strip())
    if key == "verdict":
        verdicts = _texts(value, here)
        for v in verdicts:
            if v not in VERDICTS:
                raise ConditionError(here, f"unknown verdict {v!r}: use {', '.join(VERDICTS)}")
        return VerdictIn(frozenset(verdicts))
    if key == "context":
        if value not in CONTEXT_KINDS:
            raise ConditionError(here, f"must be one of {', '.join(CONTEXT_KINDS)}")
        return ContextIs(str(value))
    raise ConditionError(here, f"unknown test {key!r}: use all, any, not, {', '.join(LEAVES)}")


def _evidence_test(value: object, path: Path) -> EvidenceTest:
    fields = _fields(value, path, EVIDENCE_FIELDS)
    kind = _text(fields, "kind", path)
    if kind is not None and kind not in EVIDENCE_KINDS:
        raise ConditionError(
            (*path, "kind"), f"unknown evidence kind {kind!r}: use {', '.join(EVIDENCE_KINDS)}"
        )
    distance = fields.get("distance_lte")
    if distance is not None and (
        not isinstance(distance, int) or isinstance(distance, bool) or not 0 <= distance <= 256
    ):
        raise ConditionError((*path, "distance_lte"), "must be a whole number from 0 to 256 (PDQ bits)")
    return EvidenceTest(
        kind=kind,
        bank=_text(fields, "bank", path),
        signal_type=_text(fields, "signal_type", path),
        origin=_text(fields, "origin", path),
        label=_text(fields, "label", path),
        distance_lte=distance,
        similarity_gte=_unit(fields["similarity_gte"], (*path, "similarity_gte"))
        if "similarity_gte" in fields
        else None,
        weight_gte=_unit(fields["weight_gte"], (*path, "weight_gte")) if "weight_gte" in fields else None,
    )


def _fields(value: object, path: Path, allowed: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ConditionError(path, f"must be a mapping of one or more of {', '.join(allowed)}")
    for key in value:
        if key not in allowed:
            raise ConditionError((*path, str(key)), f"unknown field: use {', '.join(allowed)}")
    return {str(k): v for k, v in value.items()}


def _text(fields: Mapping[str, Any], name: str, path: Path) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConditionError((*path, name), "must be a non-empty text")
    return value.strip()


def _texts(value: object, path: Path) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConditionError(path, "must be a text or a non-empty list of texts")
    return [str(v).strip() for v in items]


def _unit(value: object, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ConditionError(path, "must be a number from 0 to 1")
    return float(value)

"""Policies: versioned YAML profiles per jurisdiction that say what a reviewer may do, which decisions need
a second reviewer, deadlines, retention, and the defaults of statements of reasons.

Shipped profiles live in `posbon/policy/profiles/*.yaml` (`eu`, `default`); `load_policy(path)` reads any
other file. Every error is one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

ACTIONS = ("remove", "restrict", "geo_block", "label", "no_action", "escalate")
RESTRICTING_ACTIONS = frozenset({"remove", "restrict", "geo_block", "label"})
VERDICTS = ("match", "review", "clear")
DECISION_GROUNDS = ("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT")


class PolicyError(Exception):
    """A policy file that cannot be used (one line: file, field, what is wrong)."""


@dataclass(frozen=True)
class Category:
    name: str
    weight: float
    evidence_kinds: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class SecondReviewRule:
    action: str
    verdicts: tuple[str, ...] = ()  # item verdicts it applies to; empty: every verdict


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    jurisdiction: str
    title: str
    actions: tuple[str, ...]
    categories: dict[str, Category]
    default_category: str
    second_review: tuple[SecondReviewRule, ...]
    automated_needs_human: bool
    removal_order_hours: float
    retention_days: int
    removed_content_days: int
    territorial_scope: tuple[str, ...]
    statement_of_reasons: dict[str, Any]
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def digest(self) -> str:
        """sha256 of the canonical document: tells a changed file from the one loaded before."""
        canonical = json.dumps(self.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def needs_second_review(self, action: str, verdict: str, *, automated: bool = False) -> bool:
        if automated and self.automated_needs_human:
            return True
        return any(
            r.action == action and (not r.verdicts or verdict in r.verdicts) for r in self.second_review
        )

    def category_for(self, evidence: list[dict[str, Any]]) -> str:
        """The category an item is queued under: the heaviest whose evidence kinds the item's evidence has."""
        kinds = {str(e.get("kind", "")) for e in evidence}
        fitting = [c for c in self.categories.values() if kinds.intersection(c.evidence_kinds)]
        if not fitting:
            return self.default_category
        return max(fitting, key=lambda c: c.weight).name

    def weight(self, category: str) -> float:
        found = self.categories.get(category)
        return found.weight if found is not None else 0.5


def profile_names() -> list[str]:
    folder = resources.files("posbon.policy") / "profiles"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name: str) -> Policy:
    """A shipped profile by name ("eu", "default")."""
    if name not in profile_names():
        raise PolicyError(f"no policy profile named {name!r}: use one of {', '.join(profile_names())}")
    text = (resources.files("posbon.policy") / "profiles" / f"{name}.yaml").read_text(encoding="utf-8")
    return parse_policy(text, origin=f"profiles/{name}.yaml")


def load_policy(path_or_name: str | Path) -> Policy:
    """A policy from a YAML file, or a shipped profile when given a bare profile name."""
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in profile_names():
        return load_profile(str(path_or_name))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc}") from exc
    return parse_policy(text, origin=str(path))


def parse_policy(text: str, *, origin: str = "<policy>") -> Policy:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        raise PolicyError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(doc, dict):
        raise PolicyError(f"{origin}: a policy is a mapping of fields (id, version, jurisdiction, ...)")
    return policy_from_document(doc, origin=origin)


def policy_from_document(doc: dict[str, Any], *, origin: str = "<policy>") -> Policy:
    def fail(where: str, message: str) -> PolicyError:
        return PolicyError(f"{origin}: {where}: {message}")

    def text_field(name: str, *, required: bool = True) -> str:
        value = doc.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise fail(name, "must be a non-empty text")
        return value.strip()

    policy_id = text_field("id")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("version", "must be a whole number from 1 up")
    jurisdiction = text_field("jurisdiction")
    actions = doc.get("actions")
    if not isinstance(actions, list) or not actions:
        raise fail("actions", f"must be a list of actions from {', '.join(ACTIONS)}")
    for a in actions:
        if a not in ACTIONS:
            raise fail("actions", f"unknown action {a!r}: use {', '.join(ACTIONS)}")

    raw_categories = doc.get("categories")
    if not isinstance(raw_categories, dict) or not raw_categories:
        raise fail("categories", "must map category names to {weight, evidence_kinds}")
    categories: dict[str, Category] = {}
    for name, spec in raw_categories.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise fail(f"categories.{name}", "must be a mapping with weight and evidence_kinds")
        weight = spec.get("weight", 0.5)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise fail(f"categories.{name}.weight", "must be a number from 0 to 1")
        kinds = spec.get("evidence_kinds", [])
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise fail(f"categories.{name}.evidence_kinds", "must be a list of evidence kinds")
        categories[str(name)] = Category(
            str(name), float(weight), tuple(kinds), str(spec.get("description", ""))
        )
    default_category = doc.get("default_category", next(iter(categories)))
    if default_category not in categories:
        raise fail("default_category", f"{default_category!r} is not one of the categories")

    rules: list[SecondReviewRule] = []
    for i, rule in enumerate(doc.get("second_review") or []):
        if not isinstance(rule, dict) or rule.get("action") not in actions:
            raise fail(f"second_review[{i}]", "needs an action that the policy lists under actions")
        verdicts = rule.get("verdicts") or []
        if not isinstance(verdicts, list) or any(v not in VERDICTS for v in verdicts):
            raise fail(f"second_review[{i}].verdicts", f"must be a list from {', '.join(VERDICTS)}")
        rules.append(SecondReviewRule(rule["action"], tuple(verdicts)))

    hours = doc.get("removal_order_hours", 1)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
        raise fail("removal_order_hours", "must be a positive number of hours")
    retention = doc.get("retention") or {}
    if not isinstance(retention, dict):
        raise fail("retention", "must be a mapping with items_days and removed_content_days")
    days: dict[str, int] = {}
    for key, default in (("items_days", 90), ("removed_content_days", 183)):
        value = retention.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(f"retention.{key}", "must be a whole number of days from 1 up")
        days[key] = value
    scope = doc.get("territorial_scope") or []
    if not isinstance(scope, list) or not all(
        isinstance(c, str) and len(c) == 2 and c.isupper() for c in scope
    ):
        raise fail("territorial_scope", "must be a list of two-letter upper-case country codes")

    sor = doc.get("statement_of_reasons")
    if not isinstance(sor, dict):
        raise fail("statement_of_reasons", "must be a mapping of statement-of-reasons defaults")
    ground = sor.get("decision_ground")
    if ground not in DECISION_GROUNDS:
        raise fail("statement_of_reasons.decision_ground", f"must be one of {', '.join(DECISION_GROUNDS)}")
    needed = (
        ("illegal_content_legal_ground", "illegal_content_explanation")
        if ground == "DECISION_GROUND_ILLEGAL_CONTENT"
        else ("incompatible_content_ground", "incompatible_content_explanation")
    )
    for key in (*needed, "category"):
        if not isinstance(sor.get(key), str) or not sor[key].strip():
            raise fail(f"statement_of_reasons.{key}", "must be a non-empty text")
    if not str(sor["category"]).startswith("STATEMENT_CATEGORY_"):
        raise fail("statement_of_reasons.category", "must be a STATEMENT_CATEGORY_... value")
    keywords = sor.get("category_specification") or []
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) and k.startswith("KEYWORD_") for k in keywords
    ):
        raise fail("statement_of_reasons.category_specification", "must be a list of KEYWORD_... values")
    automated = doc.get("automated_needs_human", True)
    if not isinstance(automated, bool):
        raise fail("automated_needs_human", "must be true or false")

    return Policy(
        id=policy_id,
        version=version,
        jurisdiction=jurisdiction,
        title=text_field("title", required=False),
        actions=tuple(actions),
        categories=categories,
        default_category=str(default_category),
        second_review=tuple(rules),
        automated_needs_human=automated,
        removal_order_hours=float(hours),
        retention_days=days["items_days"],
        removed_content_days=days["removed_content_days"],
        territorial_scope=tuple(scope),
        statement_of_reasons=dict(sor),
        document=doc,
    )

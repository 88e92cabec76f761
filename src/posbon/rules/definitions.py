"""Rules as versioned YAML: what a rule is, and reading rule files with one-line errors naming the file,
the line, the rule and the field.

A file holds one rule (a mapping), a list of rules, or a mapping with a `rules:` list. A rule that cannot be
used becomes a Problem and the file's other rules still load.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from posbon.domain import Problem
from posbon.rules.conditions import Condition, ConditionError, ItemView, matches, parse_condition

KINDS = ("enforcement", "routing")
STATUSES = ("draft", "shadow", "live", "expired")
RUNNING = ("shadow", "live")  # the statuses a scan evaluates
ACTIONS = ("remove", "geo_block", "label")  # what an enforcement rule may decide
RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,79}")
FIELDS = ("id", "version", "kind", "status", "expires_at", "order", "description", "when", "then")


class RuleError(Exception):
    """A rule that cannot be used, or a rule change that is not allowed (one line)."""


@dataclass(frozen=True)
class Enforce:
    action: str  # remove | geo_block | label
    reason: str
    category: str | None = None  # the policy category; None: the item's queue category


@dataclass(frozen=True)
class Route:
    queue: str
    priority_boost: float = 0.0  # 0..1, taken off the queue priority (risk x weight) of the item


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    kind: str
    status: str
    when: Condition
    then: Enforce | Route
    expires_at: datetime | None = None
    order: int = 100  # routing rules are tried in (order, id) order; the first match picks the queue
    description: str = ""
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return f"{self.id} v{self.version}"

    @property
    def digest(self) -> str:
        """sha256 of the canonical document without its status: a status change is not a new version."""
        doc = {k: v for k, v in self.document.items() if k != "status"}
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def would_act(self) -> str:
        if isinstance(self.then, Enforce):
            return f"decide:{self.then.action}"
        return f"queue:{self.then.queue}"

    def effective_status(self, now: datetime) -> str:
        """`expired` once expires_at has passed, whatever the stored status says."""
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return self.status


def evaluate(rule: Rule, item: ItemView) -> bool:
    """Does the rule's condition hold for the item? Pure (no store, no clock, status not consulted), so it can
    be mapped over partitions of the item history on a distributed engine."""
    return matches(rule.when, item)


def _path_text(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _located(exc: ConditionError) -> str:
    where = _path_text(exc.path)
    return f"{where}: {exc.message}" if where else exc.message


def rule_from_document(doc: dict[str, Any], *, origin: str = "<rule>") -> Rule:
    """A rule from its (YAML-loaded) document. RuleError: "<origin>: rule ID: field: what is wrong"."""
    try:
        return _rule(doc)
    except ConditionError as exc:
        rid = doc.get("id") if isinstance(doc.get("id"), str) else "?"
        raise RuleError(f"{origin}: rule {rid}: {_located(exc)}") from exc


def _rule(raw: dict[str, Any]) -> Rule:
    try:
        doc = json.loads(json.dumps(raw, default=_json_default))  # what the JSON column will give back
    except (ValueError, TypeError, RecursionError):  # a circular alias, a key that is not text
        raise ConditionError(
            (), "must be plain data: mappings with text keys, lists, text, numbers, booleans"
        ) from None
    for key in doc:
        if key not in FIELDS:
            raise ConditionError((str(key),), f"unknown field: a rule has {', '.join(FIELDS)}")
    rid = doc.get("id")
    if not isinstance(rid, str) or not RULE_ID.fullmatch(rid):
        raise ConditionError(("id",), "must be lower-case letters, digits, '-', '_' or '.' (at most 80)")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConditionError(("version",), "must be a whole number from 1 up")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise ConditionError(("kind",), f"must be one of {', '.join(KINDS)}")
    status = doc.get("status", "draft")
    if status not in STATUSES:
        raise ConditionError(("status",), f"must be one of {', '.join(STATUSES)}")
    order = doc.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        raise ConditionError(("order",), "must be a whole number")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ConditionError(("description",), "must be a text")
    if "when" not in doc:
        raise ConditionError(("when",), "is missing: the condition the rule tests")
    when = parse_condition(doc["when"], ("when",))
    then = doc.get("then")
    if not isinstance(then, dict):
        raise ConditionError(("then",), "must be a mapping: {decide, reason} or {queue, priority_boost}")
    action: Enforce | Route = _enforce(then) if kind == "enforcement" else _route(then)
    return Rule(
        id=rid,
        version=version,
        kind=kind,
        status=status,
        when=when,
        then=action,
        expires_at=_when(doc.get("expires_at")),
        order=order,
        description=description.strip(),
        document=doc,
    )


def _enforce(then: dict[str, Any]) -> Enforce:
    for key in then:
        if key not in ("decide", "reason", "category"):
            raise ConditionError(("then", str(key)), "unknown field: an enforcement rule has decide, reason")
    action = then.get("decide")
    if action not in ACTIONS:
        raise ConditionError(("then", "decide"), f"must be one of {', '.join(ACTIONS)}")
    reason = then.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConditionError(("then", "reason"), "must be a non-empty text: the decision's stated reason")
    category = then.get("category")
    if category is not None and (not isinstance(category, str) or not category.strip()):
        raise ConditionError(("then", "category"), "must be a policy category name")
    return Enforce(action=action, reason=reason.strip(), category=category)


def _route(then: dict[str, Any]) -> Route:
    for key in then:
        if key not in ("queue", "priority_boost"):
            raise ConditionError(("then", str(key)), "unknown field: use queue, priority_boost")
    queue = then.get("queue")
    if not isinstance(queue, str) or not RULE_ID.fullmatch(queue):
        raise ConditionError(("then", "queue"), "must be a queue name (lower-case letters, digits, - _ .)")
    boost = then.get("priority_boost", 0.0)
    if isinstance(boost, bool) or not isinstance(boost, int | float) or not 0.0 <= float(boost) <= 1.0:
        raise ConditionError(("then", "priority_boost"), "must be a number from 0 to 1")
    return Route(queue=queue, priority_boost=float(boost))


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise ConditionError((), f"value {value!r} cannot be stored")


def _when(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ConditionError(("expires_at",), "must be a date or time like 2027-01-31T00:00Z") from exc
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise ConditionError(("expires_at",), "must be a date or time like 2027-01-31T00:00Z")


# ---- files -------------------------------------------------------------------------------------------------


def parse_rules(text: str, *, origin: str = "<rules>") -> tuple[list[Rule], list[Problem]]:
    """Every usable rule of a file, and one Problem per rule (or file) that is not."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None and _expands_beyond(node, MAX_NODES):
            return [], [
                Problem(origin, None, f"the file expands to more than {MAX_NODES:,} YAML values (aliases)")
            ]
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return [], [Problem(origin, line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]
    if isinstance(doc, dict) and "rules" in doc and "id" not in doc:
        docs, node = doc["rules"], _child(node, "rules")
    else:
        docs = doc
    if isinstance(docs, dict):
        docs, nodes = [docs], [node]
    elif isinstance(docs, list):
        nodes = list(node.value) if isinstance(node, yaml.SequenceNode) else [None] * len(docs)
    else:
        return [], [
            Problem(origin, None, "a rules file holds a rule (id, version, kind, when, then) or a list")
        ]
    rules: list[Rule] = []
    problems: list[Problem] = []
    seen: set[tuple[str, int]] = set()
    for i, (d, n) in enumerate(zip(docs, nodes, strict=True)):
        start = n.start_mark.line + 1 if n is not None else None
        if not isinstance(d, dict):
            problems.append(Problem(origin, start, f"rule {i + 1}: must be a mapping (id, version, kind...)"))
            continue
        rid = d.get("id") if isinstance(d.get("id"), str) else f"#{i + 1}"
        try:
            rule = _rule(d)
        except ConditionError as exc:
            line = _line_of(n, exc.path) if n is not None else start
            problems.append(Problem(origin, line, f"rule {rid}: {_located(exc)}"))
            continue
        if (rule.id, rule.version) in seen:
            problems.append(Problem(origin, start, f"rule {rid}: version {rule.version} appears twice"))
            continue
        seen.add((rule.id, rule.version))
        rules.append(rule)
    return rules, problems


def load_rules_file(path: Path) -> tuple[list[Rule], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), None, f"cannot read the rules file: {exc}")]
    return parse_rules(text, origin=str(path))


MAX_NODES = 100_000  # values of a rules file with its aliases expanded; real files hold a few hundred


def _expands_beyond(root: yaml.Node, limit: int) -> bool:
    """Whether the document, aliases expanded, holds more than `limit` values: a "billion laughs" file
    (aliases of aliases) or a circular alias would otherwise expand when the rule is stored as JSON."""
    stack = [root]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return False


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        child: yaml.Node = node.value[key]
        return child
    return None


def _line_of(node: yaml.Node, path: tuple[str | int, ...]) -> int:
    """The line of the deepest node of `path` that the file has (the field's line, or its parent's)."""
    current = node
    for part in path:
        found = _child(current, part)
        if found is None:
            break
        current = found
    return int(current.start_mark.line) + 1

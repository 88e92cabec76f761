"""Stored rules: loading versions, changing status (both audited), and applying the rules in force to
scanned items.

Status semantics: draft never runs in scans; shadow is evaluated on every scanned item and its would-be
action logged in rule_hits, but never acts; live acts (an automated decision through posbon.review.decide,
which under the EU policy waits for a human, or a queue route) and logs; expired does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from posbon.domain import Problem
from posbon.policy import Policy
from posbon.review import audit
from posbon.review.decisions import locked_item
from posbon.review.session import ReviewError, aware, now_utc, write_session
from posbon.rules.conditions import ItemView
from posbon.rules.definitions import RUNNING, Enforce, Route, Rule, RuleError, evaluate, rule_from_document
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import QueueEntryRow
from posbon.store.rules_models import RuleHitRow, RuleRouteRow, RuleVersionRow

CHUNK = 500  # items evaluated per read
SETTABLE = ("shadow", "live", "expired")
ITEM_COLUMNS = (
    ItemRow.item_id,
    ItemRow.source,
    ItemRow.language,
    ItemRow.verdict,
    ItemRow.risk,
    ItemRow.evidence,
    ItemRow.created_at,
)


def load_rule(store: Store, rule: Rule, *, actor: str = "cli") -> bool:
    """Store a rule version; True if it was new (then audited as rule.load). The same version again with
    the same content is a no-op (its status, perhaps changed since, is kept); with other content, or an
    older version than the one loaded, it is refused."""
    with write_session(store) as s:
        rows = s.scalars(select(RuleVersionRow).where(RuleVersionRow.rule_id == rule.id)).all()
        same = next((r for r in rows if r.version == rule.version), None)
        if same is not None:
            if same.digest != rule.digest:
                raise RuleError(
                    f"rule {rule.id} version {rule.version} was loaded before with other content: "
                    "raise its version number"
                )
            return False
        newest = max(rows, key=lambda r: r.version, default=None)
        if newest is not None and newest.version > rule.version:
            raise RuleError(
                f"rule {rule.id}: version {rule.version} is older than the loaded {newest.version}"
            )
        now = now_utc()
        s.add(
            RuleVersionRow(
                rule_id=rule.id,
                version=rule.version,
                kind=rule.kind,
                status=rule.status,
                expires_at=rule.expires_at,
                digest=rule.digest,
                document=rule.document,
                loaded_at=now,
                loaded_by=actor,
                status_changed_at=now,
            )
        )
        audit.append(
            s,
            actor=actor,
            action="rule.load",
            subject=f"rule:{rule.id}",
            details={
                "version": rule.version,
                "kind": rule.kind,
                "status": rule.status,
                "digest": rule.digest,
                "would_act": rule.would_act,
                "expires_at": rule.expires_at.isoformat() if rule.expires_at else None,
                "previous_version": newest.version if newest is not None else None,
                "previous_status": newest.status if newest is not None else None,
            },
        )
    return True


def set_status(store: Store, rule_id: str, status: str, *, actor: str = "cli") -> RuleVersionRow:
    """Set the status of a rule's newest version (shadow, live or expired); audited as rule.status."""
    if status not in SETTABLE:
        raise RuleError(f"status {status!r}: set one of {', '.join(SETTABLE)}")
    with write_session(store) as s:
        row = _newest(s, rule_id)
        if row is None:
            raise RuleError(f"no rule with id {rule_id!r}: `posbon rules load FILE` first")
        expires = aware(row.expires_at)
        if status in RUNNING and expires is not None and expires <= now_utc():
            raise RuleError(
                f"rule {rule_id} v{row.version} expired at {expires.isoformat()}: load a new version"
            )
        previous = row.status
        if previous == status:
            return row
        row.status = status
        row.status_changed_at = now_utc()
        audit.append(
            s,
            actor=actor,
            action="rule.status",
            subject=f"rule:{rule_id}",
            details={"version": row.version, "from": previous, "to": status},
        )
    return row


def _newest(s: Session, rule_id: str) -> RuleVersionRow | None:
    return s.scalar(
        select(RuleVersionRow)
        .where(RuleVersionRow.rule_id == rule_id)
        .order_by(RuleVersionRow.version.desc())
        .limit(1)
    )


def _as_rule(row: RuleVersionRow) -> Rule:
    rule = rule_from_document(row.document, origin=f"stored rule {row.rule_id} v{row.version}")
    return replace(rule, status=row.status)


def list_rules(store: Store) -> list[RuleVersionRow]:
    """The newest version of every rule, by id."""
    newest = (
        select(RuleVersionRow.rule_id, func.max(RuleVersionRow.version).label("v"))
        .group_by(RuleVersionRow.rule_id)
        .subquery()
    )
    with store.session() as s:
        return list(
            s.scalars(
                select(RuleVersionRow)
                .join(
                    newest,
                    (newest.c.rule_id == RuleVersionRow.rule_id) & (newest.c.v == RuleVersionRow.version),
                )
                .order_by(RuleVersionRow.rule_id)
            ).all()
        )


def rule_history(store: Store, rule_id: str) -> list[RuleVersionRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(RuleVersionRow)
                .where(RuleVersionRow.rule_id == rule_id)
                .order_by(RuleVersionRow.version)
            ).all()
        )


def stored_rule(store: Store, rule_id: str, version: int | None = None) -> Rule:
    """A stored rule (its newest version unless `version`), with its current status."""
    query = select(RuleVersionRow).where(RuleVersionRow.rule_id == rule_id)
    if version is not None:
        query = query.where(RuleVersionRow.version == version)
    with store.session() as s:
        row = s.scalar(query.order_by(RuleVersionRow.version.desc()).limit(1))
    if row is None:
        raise RuleError(f"no rule with id {rule_id!r}" + (f" version {version}" if version else ""))
    return _as_rule(row)


def rules_in_force(store: Store, now: datetime | None = None) -> list[Rule]:
    """The newest version of each rule whose status is shadow or live and that has not expired."""
    moment = now or now_utc()
    found = []
    for row in list_rules(store):
        if row.status not in RUNNING:
            continue
        rule = _as_rule(row)
        if rule.effective_status(moment) in RUNNING:
            found.append(rule)
    return found


def hits(store: Store, rule_id: str, *, limit: int = 50, version: int | None = None) -> list[RuleHitRow]:
    """A rule's hits, newest first."""
    query = select(RuleHitRow).where(RuleHitRow.rule_id == rule_id)
    if version is not None:
        query = query.where(RuleHitRow.rule_version == version)
    with store.session() as s:
        return list(s.scalars(query.order_by(RuleHitRow.id.desc()).limit(max(0, limit))).all())


def routes(store: Store, queue: str | None = None) -> list[RuleRouteRow]:
    """Items routed by live routing rules (to one queue, or to any)."""
    query = select(RuleRouteRow).order_by(RuleRouteRow.routed_at, RuleRouteRow.item_id)
    if queue is not None:
        query = query.where(RuleRouteRow.queue == queue)
    with store.session() as s:
        return list(s.scalars(query).all())


@dataclass
class RulesApplied:
    evaluated: int = 0  # items
    hits: int = 0  # new rule hits logged (shadow and live)
    acted: int = 0  # live enforcement decisions recorded
    routed: int = 0  # items given a queue by a live routing rule
    problems: list[Problem] = field(default_factory=list)  # live actions that were refused


def apply_rules(store: Store, item_ids: Sequence[str], *, now: datetime | None = None) -> RulesApplied:
    """Evaluate the rules in force on these items (after a scan stored them).

    Enforcement: every matching rule is logged (once per rule version and item, so a rescan does not log or
    act again); a live one decides through posbon.review.decide(..., automated=True), whose refusals (an
    item already decided, a decision waiting for a human) are logged as not acted. Routing: routing rules
    are tried in (order, id) order and the first live one that matches picks the item's queue; matching
    shadow routing rules are only logged.
    """
    result = RulesApplied()
    rules = rules_in_force(store, now) if item_ids else []
    if not rules:
        return result
    enforcement = sorted((r for r in rules if isinstance(r.then, Enforce)), key=lambda r: (r.order, r.id))
    routing = sorted((r for r in rules if isinstance(r.then, Route)), key=lambda r: (r.order, r.id))
    policy: Policy | None = None
    ids = list(dict.fromkeys(item_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with store.session() as s:
            rows = s.execute(select(*ITEM_COLUMNS).where(ItemRow.item_id.in_(chunk))).all()
            logged = set(
                s.execute(
                    select(RuleHitRow.rule_id, RuleHitRow.rule_version, RuleHitRow.item_id).where(
                        RuleHitRow.item_id.in_(chunk), RuleHitRow.rule_id.in_({r.id for r in rules})
                    )
                ).all()
            )
        new_hits: list[RuleHitRow] = []
        to_route: dict[str, Rule] = {}
        for row in rows:
            view = ItemView.from_row(row._mapping)
            result.evaluated += 1
            for rule in enforcement:
                if (rule.id, rule.version, view.item_id) in logged or not evaluate(rule, view):
                    continue
                hit = RuleHitRow(
                    rule_id=rule.id,
                    rule_version=rule.version,
                    item_id=view.item_id,
                    status=rule.status,
                    would_act=rule.would_act,
                    acted=False,
                    note="",
                    at=now_utc(),
                )
                if rule.status == "live":
                    assert isinstance(rule.then, Enforce)
                    if policy is None:
                        from posbon.review import active_policy

                        policy = active_policy(store)
                    _enforce(store, rule, rule.then, view.item_id, policy, hit, result)
                new_hits.append(hit)
            first_live: Rule | None = None
            for rule in routing:
                if not evaluate(rule, view):
                    continue
                live_winner = rule.status == "live" and first_live is None
                if live_winner:
                    first_live = rule
                    to_route[view.item_id] = rule
                note = ""
                if rule.status == "live" and not live_winner and first_live is not None:
                    note = f"{first_live.name} routed it first"
                if (rule.id, rule.version, view.item_id) not in logged:
                    new_hits.append(
                        RuleHitRow(
                            rule_id=rule.id,
                            rule_version=rule.version,
                            item_id=view.item_id,
                            status=rule.status,
                            would_act=rule.would_act,
                            acted=live_winner,
                            note=note,
                            at=now_utc(),
                        )
                    )
        with write_session(store) as s:
            # Lock the items (in one order) and read their hits again: another process applying rules to
            # the same items at the same time (two workers, a rescan) may have logged them since `logged`
            # was read, and each hit is logged once per rule version and item.
            touched = sorted({h.item_id for h in new_hits} | set(to_route))
            for item_id in touched:
                locked_item(s, item_id)
            logged_now = set(
                s.execute(
                    select(RuleHitRow.rule_id, RuleHitRow.rule_version, RuleHitRow.item_id).where(
                        RuleHitRow.item_id.in_(touched), RuleHitRow.rule_id.in_({r.id for r in rules})
                    )
                ).all()
            )
            fresh = [h for h in new_hits if (h.rule_id, h.rule_version, h.item_id) not in logged_now]
            s.add_all(fresh)
            result.hits += len(fresh)
            for item_id, rule in sorted(to_route.items(), key=lambda pair: pair[0]):
                result.routed += _route(s, item_id, rule)
    return result


def _enforce(
    store: Store,
    rule: Rule,
    then: Enforce,
    item_id: str,
    policy: Policy,
    hit: RuleHitRow,
    result: RulesApplied,
) -> None:
    from posbon.review import decide

    try:
        decision = decide(
            store,
            item_id,
            then.action,
            reviewer=f"rule:{rule.name}",
            reason=f"{then.reason} (rule {rule.name})",
            policy=policy,
            category=then.category,
            automated=True,
        )
    except ReviewError as exc:
        hit.note = str(exc)
        result.problems.append(Problem(f"rule {rule.name}", None, f"item {item_id}: not acted: {exc}"))
        return
    hit.acted = True
    hit.decision_id = decision.id
    result.acted += 1


def _route(s: Session, item_id: str, rule: Rule) -> int:
    """Give the item the rule's queue and its priority boost (applied once: a rescan that recomputed the
    queue priority gets it again, an unchanged one does not). 1 if the route is new or changed."""
    assert isinstance(rule.then, Route)
    # the caller holds the item's row lock (as every decision path takes it): two processes applying
    # rules to one item would otherwise both read "no route yet" and both add the priority boost
    if s.get(ItemRow, item_id) is None:
        return 0  # purged since the rules ran
    boost = rule.then.priority_boost
    now = now_utc()
    route = s.get(RuleRouteRow, item_id)
    entry = s.get(QueueEntryRow, item_id)
    changed = route is None or (route.queue, route.rule_id, route.rule_version) != (
        rule.then.queue,
        rule.id,
        rule.version,
    )
    if entry is not None:
        resynced = route is not None and (aware(entry.synced_at) or now) > (aware(route.routed_at) or now)
        applied = route.priority_boost if route is not None and not resynced else 0.0
        if changed or resynced:
            # priority is stored negated (most severe first); a boost makes it more negative
            entry.priority = round(entry.priority + applied - boost, 6)
    if route is None:
        s.add(
            RuleRouteRow(
                item_id=item_id,
                queue=rule.then.queue,
                rule_id=rule.id,
                rule_version=rule.version,
                priority_boost=boost,
                routed_at=now,
            )
        )
    elif changed:
        route.queue, route.rule_id, route.rule_version = rule.then.queue, rule.id, rule.version
        route.priority_boost, route.routed_at = boost, now
    elif entry is not None and (aware(entry.synced_at) or now) > (aware(route.routed_at) or now):
        route.routed_at = now
    return 1 if changed else 0

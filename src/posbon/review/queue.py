"""The review queue: items whose verdict is match or review and that have no final decision yet, most
urgent first: an open removal order (earliest deadline first), then risk x category weight, then age.

Queue places live in their own table with a composite index in exactly the queue's order, so a page of the
queue is a short index walk however many items wait. `sync_queue` adds newly flagged items (run it after a
scan); decisions, appeals and orders move items in and out themselves.

Named queues: a live routing rule (posbon.rules) gives an item a queue name (rule_routes) and its priority
boost. `queue(..., queue_name=NAME)` shows only the items routed to NAME; DEFAULT_QUEUE ("default") holds
the items no live routing rule routed (and any a rule routed to a queue called "default"). The order is the
same in every named queue. The name filter joins rule_routes by item id, so a page of a small queue walks
the queue index further than a page of the whole queue does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.orm import Session

from posbon.policy import Policy
from posbon.review.session import aware, now_utc, write_session
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.platform_models import NoticeRow
from posbon.store.review_models import AppealRow, DecisionRow, QueueEntryRow, RemovalOrderRow
from posbon.store.rules_models import RuleRouteRow

FLAGGED = ("match", "review")
DEFAULT_QUEUE = "default"  # the queue of items no live routing rule routed
MAX_QUEUE_NAME = 100  # rule_routes.queue is VARCHAR(100)


@dataclass(frozen=True)
class QueueEntry:
    item: ItemRow
    priority: float  # 0..10: risk x category weight
    category: str
    reason: str  # new | second_review | appeal | order | escalated
    deadline_at: datetime | None  # the earliest open removal order's deadline
    open_order: RemovalOrderRow | None
    pending_decision: DecisionRow | None  # the decision a second reviewer must confirm or override
    open_appeal: AppealRow | None
    excluded_reviewers: tuple[str, ...] = field(default=())  # who may not take it (decided it before)
    jurisdiction: str = ""  # the policy jurisdiction it is queued under
    routed_queue: str = DEFAULT_QUEUE  # the named queue a live routing rule gave it
    routed_by: str | None = None  # that rule's id, None in the default queue


# Queue priorities are -(risk x weight), in [-1, 0]; a trusted flagger's notice is shifted one whole unit
# lower, so it sorts before every untrusted item (the queue shows it as a priority above 10).
TRUSTED_SHIFT = 1.0


def priority_key(risk: float, weight: float) -> float:
    """Stored negated so that the index's ascending order is most severe first."""
    return -round(float(risk) * float(weight), 6)


def new_entry(item: ItemRow, policy: Policy, *, reason: str = "new") -> QueueEntryRow:
    category = policy.category_for(list(item.evidence or []))
    return QueueEntryRow(
        item_id=item.item_id,
        state="open",
        reason=reason,
        jurisdiction=policy.jurisdiction,
        category=category,
        urgent=1,
        deadline_at=None,
        priority=priority_key(item.risk, policy.weight(category)),
        queued_at=aware(item.first_seen_at) or now_utc(),
        excluded_reviewers="",
        synced_at=now_utc(),
    )


def entry_for(session: Session, item: ItemRow, policy: Policy) -> QueueEntryRow:
    """The item's queue place, made (closed) if it never had one."""
    row = session.get(QueueEntryRow, item.item_id)
    if row is None:
        row = new_entry(item, policy)
        row.state = "closed"
        session.add(row)
        session.flush()
    return row


def exclude(row: QueueEntryRow, *names: str) -> None:
    have = [n for n in row.excluded_reviewers.split("|") if n]
    for name in names:
        if name and name not in have:
            have.append(name)
    row.excluded_reviewers = "|" + "|".join(have) + "|" if have else ""


def sync_queue(store: Store, policy: Policy, *, chunk: int = 5000) -> int:
    """Queue flagged items that never had a queue place; refresh the priority of waiting ones whose
    assessment changed (a rescan), and drop waiting ones a rescan cleared. Returns how many were queued."""
    added = 0
    with write_session(store) as s:
        fresh = s.execute(
            select(ItemRow.item_id, ItemRow.risk, ItemRow.evidence, ItemRow.first_seen_at)
            .outerjoin(QueueEntryRow, QueueEntryRow.item_id == ItemRow.item_id)
            .where(ItemRow.verdict.in_(FLAGGED), QueueEntryRow.item_id.is_(None))
        ).all()
        now = now_utc()
        rows: list[dict[str, Any]] = []
        for item_id, risk, evidence, first_seen in fresh:
            category = policy.category_for(list(evidence or []))
            rows.append(
                {
                    "item_id": item_id,
                    "state": "open",
                    "reason": "new",
                    "jurisdiction": policy.jurisdiction,
                    "category": category,
                    "urgent": 1,
                    "deadline_at": None,
                    "priority": priority_key(risk, policy.weight(category)),
                    "queued_at": aware(first_seen) or now,
                    "excluded_reviewers": "",
                    "synced_at": now,
                }
            )
            if len(rows) >= chunk:
                s.execute(insert(QueueEntryRow), rows)
                added += len(rows)
                rows = []
        if rows:
            s.execute(insert(QueueEntryRow), rows)
            added += len(rows)
        changed = s.execute(
            select(QueueEntryRow, ItemRow.verdict, ItemRow.risk, ItemRow.evidence)
            .join(ItemRow, ItemRow.item_id == QueueEntryRow.item_id)
            .where(QueueEntryRow.state == "open", ItemRow.assessed_at > QueueEntryRow.synced_at)
        ).all()
        # items a trusted flagger's notice put ahead stay ahead when a rescan recomputes their priority
        trusted = (
            set(
                s.scalars(
                    select(NoticeRow.item_id).where(NoticeRow.trusted.is_(True), NoticeRow.status == "queued")
                ).all()
            )
            if changed
            else set()
        )
        for entry, verdict, risk, evidence in changed:
            if verdict not in FLAGGED and entry.reason == "new":
                entry.state = "closed"
                entry.reason = "cleared"
            entry.category = policy.category_for(list(evidence or []))
            entry.priority = priority_key(risk, policy.weight(entry.category))
            if entry.item_id in trusted:
                entry.priority -= TRUSTED_SHIFT
            entry.synced_at = now
    return added


def in_queue(name: str) -> ColumnElement[bool]:
    """The condition "routed to queue `name`" over a query outer-joined to RuleRouteRow."""
    if name == DEFAULT_QUEUE:
        return or_(RuleRouteRow.item_id.is_(None), RuleRouteRow.queue == DEFAULT_QUEUE)
    return RuleRouteRow.queue == name


def queue(
    store: Store,
    *,
    limit: int = 50,
    offset: int = 0,
    jurisdiction: str | None = None,
    reviewer: str | None = None,
    queue_name: str | None = None,
) -> list[QueueEntry]:
    """A page of the queue, most urgent first. With `reviewer`, items they may not take (they decided them
    before: second reviews, appeals) are left out; with `queue_name`, only the items routed to that named
    queue (DEFAULT_QUEUE: those no live routing rule routed)."""
    # Two steps: the page's item ids from the queue table alone (its ordering index; a deep OFFSET steps
    # over index entries, not over joined item rows), then those rows with their items and routes.
    ids_query = (
        select(QueueEntryRow.item_id)
        .where(QueueEntryRow.state == "open")
        .order_by(
            QueueEntryRow.urgent,
            QueueEntryRow.deadline_at,
            QueueEntryRow.priority,
            QueueEntryRow.queued_at,
        )
        .limit(max(0, limit))
        .offset(max(0, offset))
    )
    if jurisdiction is not None:
        ids_query = ids_query.where(QueueEntryRow.jurisdiction == jurisdiction)
    if reviewer:
        ids_query = ids_query.where(
            ~QueueEntryRow.excluded_reviewers.contains(f"|{reviewer}|", autoescape=True)
        )
    if queue_name is not None:
        ids_query = ids_query.outerjoin(RuleRouteRow, RuleRouteRow.item_id == QueueEntryRow.item_id).where(
            in_queue(queue_name)
        )
    with store.session() as s:
        page_ids = list(s.scalars(ids_query).all())
        rows = s.execute(
            select(QueueEntryRow, ItemRow, RuleRouteRow.queue, RuleRouteRow.rule_id)
            .join(ItemRow, ItemRow.item_id == QueueEntryRow.item_id)
            .outerjoin(RuleRouteRow, RuleRouteRow.item_id == QueueEntryRow.item_id)
            .where(QueueEntryRow.item_id.in_(page_ids))
        ).all()
        place = {item_id: n for n, item_id in enumerate(page_ids)}
        page = sorted(rows, key=lambda row: place[row[0].item_id])
        ids = [entry.item_id for entry, *_ in page]
        orders = _first_by_item(
            s.scalars(
                select(RemovalOrderRow)
                .where(RemovalOrderRow.item_id.in_(ids), RemovalOrderRow.status == "open")
                .order_by(RemovalOrderRow.deadline_at)
            ).all()
        )
        pending = _first_by_item(
            s.scalars(
                select(DecisionRow)
                .where(DecisionRow.item_id.in_(ids), DecisionRow.status == "pending_second_review")
                .order_by(DecisionRow.id.desc())
            ).all()
        )
        appeals: dict[str, AppealRow] = {}
        for appeal_row, item_id in s.execute(
            select(AppealRow, DecisionRow.item_id)
            .join(DecisionRow, DecisionRow.id == AppealRow.decision_id)
            .where(DecisionRow.item_id.in_(ids), AppealRow.status == "open")
        ).all():
            if item_id is not None:
                appeals.setdefault(item_id, appeal_row)
    return [
        QueueEntry(
            item=item,
            priority=round(-entry.priority * 10, 2),
            category=entry.category,
            reason=entry.reason,
            deadline_at=aware(entry.deadline_at),
            open_order=orders.get(entry.item_id),
            pending_decision=pending.get(entry.item_id),
            open_appeal=appeals.get(entry.item_id),
            excluded_reviewers=tuple(n for n in entry.excluded_reviewers.split("|") if n),
            jurisdiction=entry.jurisdiction,
            routed_queue=routed or DEFAULT_QUEUE,
            routed_by=rule_id,
        )
        for entry, item, routed, rule_id in page
    ]


def queue_size(store: Store, *, jurisdiction: str | None = None, queue_name: str | None = None) -> int:
    query = select(func.count()).select_from(QueueEntryRow).where(QueueEntryRow.state == "open")
    if jurisdiction is not None:
        query = query.where(QueueEntryRow.jurisdiction == jurisdiction)
    if queue_name is not None:
        query = query.outerjoin(RuleRouteRow, RuleRouteRow.item_id == QueueEntryRow.item_id).where(
            in_queue(queue_name)
        )
    with store.session() as s:
        return int(s.scalar(query) or 0)


def known_queues(store: Store) -> list[tuple[str, int]]:
    """Every queue name: DEFAULT_QUEUE first, then each name a live routing rule ever routed an item to
    (distinct rule_routes.queue), by name; each with how many open items it holds now."""
    # Counted over the routes (few) rather than over every open queue entry (an outer join that took
    # ~100 ms per queue page at 100k open items): the default queue is what the named ones leave.
    with store.session() as s:
        names = set(s.scalars(select(RuleRouteRow.queue).distinct()).all())
        total = int(
            s.scalar(select(func.count()).select_from(QueueEntryRow).where(QueueEntryRow.state == "open"))
            or 0
        )
        counts: dict[str, int] = {
            str(queue_name): int(count)
            for queue_name, count in s.execute(
                select(RuleRouteRow.queue, func.count())
                .where(
                    RuleRouteRow.queue != DEFAULT_QUEUE,
                    select(QueueEntryRow.item_id)
                    .where(QueueEntryRow.item_id == RuleRouteRow.item_id, QueueEntryRow.state == "open")
                    .exists(),
                )
                .group_by(RuleRouteRow.queue)
            ).all()
        }
    names.discard(DEFAULT_QUEUE)
    default = total - sum(counts.values())
    return [(DEFAULT_QUEUE, default), *((n, counts.get(n, 0)) for n in sorted(names))]


def _first_by_item(rows: Sequence[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for row in rows:
        if row.item_id is not None:
            found.setdefault(row.item_id, row)
    return found

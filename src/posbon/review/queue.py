"""The review queue: items whose verdict is match or review and that have no final decision yet, most
urgent first: an open removal order (earliest deadline first), then risk x category weight, then age.

Queue places live in their own table with a composite index in exactly the queue's order, so a page of the
queue is a short index walk however many items wait. `sync_queue` adds newly flagged items (run it after a
scan); decisions, appeals and orders move items in and out themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from posbon.policy import Policy
from posbon.review.session import aware, now_utc, write_session
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import AppealRow, DecisionRow, QueueEntryRow, RemovalOrderRow

FLAGGED = ("match", "review")


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
        for entry, verdict, risk, evidence in changed:
            if verdict not in FLAGGED and entry.reason == "new":
                entry.state = "closed"
                entry.reason = "cleared"
            entry.category = policy.category_for(list(evidence or []))
            entry.priority = priority_key(risk, policy.weight(entry.category))
            entry.synced_at = now
    return added


def queue(
    store: Store,
    *,
    limit: int = 50,
    offset: int = 0,
    jurisdiction: str | None = None,
    reviewer: str | None = None,
) -> list[QueueEntry]:
    """A page of the queue, most urgent first. With `reviewer`, items they may not take (they decided them
    before: second reviews, appeals) are left out."""
    query = (
        select(QueueEntryRow, ItemRow)
        .join(ItemRow, ItemRow.item_id == QueueEntryRow.item_id)
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
        query = query.where(QueueEntryRow.jurisdiction == jurisdiction)
    if reviewer:
        query = query.where(~QueueEntryRow.excluded_reviewers.contains(f"|{reviewer}|", autoescape=True))
    with store.session() as s:
        page = s.execute(query).all()
        ids = [entry.item_id for entry, _ in page]
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
        )
        for entry, item in page
    ]


def queue_size(store: Store, *, jurisdiction: str | None = None) -> int:
    query = select(func.count()).select_from(QueueEntryRow).where(QueueEntryRow.state == "open")
    if jurisdiction is not None:
        query = query.where(QueueEntryRow.jurisdiction == jurisdiction)
    with store.session() as s:
        return int(s.scalar(query) or 0)


def _first_by_item(rows: Sequence[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for row in rows:
        if row.item_id is not None:
            found.setdefault(row.item_id, row)
    return found

"""The web app's one door to posbon's review services (posbon.review) and the store.

Writes go through posbon.review (which audits them); the pages' read-only listings read the review tables
directly. Keeping every call here means a change in the services' signatures is adapted in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from posbon.review import accounts
from posbon.review.session import ReviewError, aware
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import (
    AppealRow,
    DecisionRow,
    PolicyVersionRow,
    QueueEntryRow,
    RemovalOrderRow,
)

# Row ids are INTEGER columns: 32-bit on PostgreSQL (64 on SQLite). A larger id in a URL gets 422 (or, on
# the HMA routes, 404), not the driver's out-of-range error.
MAX_ROW_ID = 2**31 - 1

__all__ = ["Account", "OrderView", "QueueView", "ReviewError", "Services"]


@dataclass(frozen=True)
class Account:
    name: str
    role: str


@dataclass(frozen=True)
class QueueView:
    item_id: str
    verdict: str
    risk: float
    priority: float
    language: str
    reason: str
    jurisdiction: str
    category: str
    excerpt: str
    order_id: int | None
    deadline: str | None  # ISO 8601 UTC
    overdue: bool
    queued_at: datetime | None
    queue: str = "default"  # the named queue a live routing rule gave it (posbon.review.queue)


@dataclass(frozen=True)
class OrderView:
    id: int
    item_id: str | None
    authority: str
    reference: str
    received_at: datetime
    deadline: str  # ISO 8601 UTC, for the countdown
    deadline_at: datetime
    status: str
    actioned_at: datetime | None
    action: str | None
    overdue: bool


def iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def order_view(row: Any, now: datetime | None = None) -> OrderView:
    now = now or datetime.now(UTC)
    deadline = aware(row.deadline_at)
    assert deadline is not None
    received = aware(row.received_at)
    assert received is not None
    return OrderView(
        id=row.id,
        item_id=row.item_id,
        authority=row.authority,
        reference=row.reference,
        received_at=received,
        deadline=iso(deadline) or "",
        deadline_at=deadline,
        status=row.status,
        actioned_at=aware(row.actioned_at),
        action=row.action,
        overdue=row.status == "open" and deadline < now,
    )


def excerpt(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Services:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- accounts ----------------------------------------------------------------------------------

    def verify_password(self, username: str, password: str) -> Account | None:
        user = accounts.verify_password(self.store, username, password)
        return Account(user.username, user.role) if user is not None else None

    def verify_api_key(self, token: str) -> Account | None:
        key = accounts.verify_api_key(self.store, token)
        return Account(key.name, key.role) if key is not None else None

    def record_login(self, username: str, ok: bool) -> None:
        accounts.record_login(self.store, username, ok)

    def users(self) -> list[Any]:
        return list(accounts.list_users(self.store))

    def api_keys(self) -> list[Any]:
        return list(accounts.list_api_keys(self.store))

    def create_user(self, username: str, password: str, role: str, *, actor: str) -> None:
        accounts.create_user(self.store, username, password, role, actor=actor)

    def create_api_key(self, name: str, role: str, *, actor: str) -> str:
        return accounts.create_api_key(self.store, name, role, actor=actor)

    # ---- policies ----------------------------------------------------------------------------------

    def policy(self, jurisdiction: str | None = None) -> Any:
        from posbon.review.policies import active_policy

        return active_policy(self.store, jurisdiction)

    def policies(self) -> list[Any]:
        with self.store.session() as s:
            return list(s.scalars(select(PolicyVersionRow).order_by(PolicyVersionRow.id.desc())).all())

    # ---- queue and items ---------------------------------------------------------------------------

    def queue(
        self,
        *,
        limit: int,
        offset: int = 0,
        jurisdiction: str | None = None,
        reviewer: str | None = None,
        queue_name: str | None = None,
    ) -> list[QueueView]:
        """A page of the queue; with `reviewer`, without the items they may not take (their own decisions);
        with `queue_name`, only the items routed to that named queue ("default": not routed)."""
        from posbon.review.queue import queue as review_queue

        now = datetime.now(UTC)
        entries = review_queue(
            self.store,
            limit=limit,
            offset=offset,
            jurisdiction=jurisdiction,
            reviewer=reviewer,
            queue_name=queue_name,
        )
        return [_queue_view(e, now) for e in entries]

    def known_queues(self) -> list[tuple[str, int]]:
        """Queue names ("default" first, then those routing rules used) with their open item counts."""
        from posbon.review.queue import known_queues

        return known_queues(self.store)

    def queue_entry(self, item_id: str) -> QueueEntryRow | None:
        with self.store.session() as s:
            row = s.get(QueueEntryRow, item_id)
            return row if row is not None and row.state == "open" else None

    def item(self, item_id: str) -> ItemRow | None:
        with self.store.session() as s:
            return s.get(ItemRow, item_id)

    def decisions_for(self, item_id: str) -> list[DecisionRow]:
        with self.store.session() as s:
            return list(
                s.scalars(select(DecisionRow).where(DecisionRow.item_id == item_id).order_by(DecisionRow.id))
            )

    def decision(self, decision_id: int) -> DecisionRow | None:
        with self.store.session() as s:
            return s.get(DecisionRow, decision_id)

    def appeals_for(self, item_id: str) -> list[AppealRow]:
        with self.store.session() as s:
            return list(
                s.scalars(
                    select(AppealRow)
                    .join(DecisionRow, DecisionRow.id == AppealRow.decision_id)
                    .where(DecisionRow.item_id == item_id)
                    .order_by(AppealRow.id)
                )
            )

    def open_appeals(self, limit: int = 500) -> list[dict[str, Any]]:
        with self.store.session() as s:
            rows = s.execute(
                select(AppealRow, DecisionRow)
                .join(DecisionRow, DecisionRow.id == AppealRow.decision_id)
                .where(AppealRow.status == "open")
                .order_by(AppealRow.received_at)
                .limit(limit)
            ).all()
        return [
            {
                "id": a.id,
                "decision_id": a.decision_id,
                "item_id": d.item_id,
                "action": d.action,
                "reviewer": d.reviewer,
                "complaint": a.complaint,
                "received_at": aware(a.received_at),
            }
            for a, d in rows
        ]

    def orders_for(self, item_id: str) -> list[OrderView]:
        with self.store.session() as s:
            rows = list(
                s.scalars(
                    select(RemovalOrderRow)
                    .where(RemovalOrderRow.item_id == item_id)
                    .order_by(RemovalOrderRow.id)
                )
            )
        return [order_view(r) for r in rows]

    def orders(self, *, overdue_only: bool = False, limit: int = 500) -> list[OrderView]:
        now = datetime.now(UTC)
        query = select(RemovalOrderRow).order_by(RemovalOrderRow.deadline_at.desc()).limit(limit)
        if overdue_only:
            query = query.where(RemovalOrderRow.status == "open", RemovalOrderRow.deadline_at < now)
        with self.store.session() as s:
            rows = list(s.scalars(query))
        views = [order_view(r, now) for r in rows]
        return [v for v in views if v.overdue] if overdue_only else views

    # ---- decisions, appeals, orders (posbon.review: validated and audited there) -------------------

    def decide(self, item_id: str, action: str, *, reviewer: str, reason: str, category: str | None) -> Any:
        """A decision under the active policy of the item's queue jurisdiction (its version is recorded)."""
        from posbon.review import decide

        return decide(
            self.store,
            item_id,
            action,
            reviewer=reviewer,
            reason=reason,
            policy=self.policy(self._jurisdiction(item_id)),
            category=category,
        )

    def _jurisdiction(self, item_id: str) -> str | None:
        with self.store.session() as s:
            row = s.get(QueueEntryRow, item_id)
            return row.jurisdiction if row is not None else None

    def appeal(self, decision_id: int, complaint: str, *, actor: str) -> Any:
        from posbon.review import appeal

        return appeal(self.store, decision_id, complaint)

    def resolve_appeal(self, appeal_id: int, *, reviewer: str, upheld: bool, reason: str) -> Any:
        from posbon.review import resolve_appeal

        return resolve_appeal(self.store, appeal_id, reviewer=reviewer, upheld=upheld, reason=reason)

    def record_order(
        self, item_id: str, *, authority: str, reference: str, received_at: datetime | None, actor: str
    ) -> OrderView:
        from posbon.review import record_order

        row = record_order(
            self.store,
            item_id,
            authority=authority,
            reference=reference,
            received_at=received_at,
            policy=self.policy(self._jurisdiction(item_id)),
            actor=actor,
        )
        return order_view(row)

    def action_order(self, order_id: int, *, reviewer: str, action: str, reason: str | None) -> OrderView:
        from posbon.review import action_order

        with self.store.session() as s:
            order = s.get(RemovalOrderRow, order_id)
            item_id = order.item_id if order is not None else None
        policy = self.policy(self._jurisdiction(item_id) if item_id else None)
        row = action_order(
            self.store, order_id, reviewer=reviewer, policy=policy, action=action, reason=reason
        )
        return order_view(row)

    # ---- transparency report -----------------------------------------------------------------------

    def transparency(self, start: date, end: date) -> Any:
        """The transparency report's figures for the days start..end (posbon.report.transparency)."""
        from posbon.report.transparency import figures

        return figures(self.store, start, end)

    def transparency_html(self, start: date, end: date) -> str:
        """The report as the backend renders it: one self-contained page (inline CSS and SVG, no script)."""
        from posbon.report.transparency import figures, render_transparency

        return render_transparency(figures(self.store, start, end))


def _queue_view(entry: Any, now: datetime) -> QueueView:
    item = entry.item
    deadline = aware(getattr(entry, "deadline", None) or getattr(entry, "deadline_at", None))
    order = getattr(entry, "order", None) or getattr(entry, "open_order", None)
    return QueueView(
        item_id=item.item_id,
        verdict=item.verdict,
        risk=float(item.risk or 0.0),
        priority=float(getattr(entry, "priority", 0.0) or 0.0),
        language=item.language,
        reason=str(getattr(entry, "reason", "") or ""),
        jurisdiction=str(getattr(entry, "jurisdiction", "") or ""),
        category=str(getattr(entry, "category", "") or ""),
        excerpt=excerpt(item.text),
        order_id=getattr(order, "id", None),
        deadline=iso(deadline),
        overdue=deadline is not None and deadline < now,
        queued_at=aware(getattr(entry, "queued_at", None)),
        queue=str(getattr(entry, "routed_queue", "") or "default"),
    )

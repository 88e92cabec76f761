"""Decisions, appeals and removal orders. Every service writes its change and its audit record in one
transaction; the rules come from the policy in force (posbon.policy).

Concurrency: each service reads an item's decisions, checks the rules (four eyes, one final decision, one
open appeal) and then writes, so two reviewers acting on the same item at once must not both pass the
checks. On SQLite, write_session's BEGIN IMMEDIATE runs writers one at a time. On PostgreSQL (READ
COMMITTED) every service first locks the item's row (`_lock_item`: SELECT ... FOR UPDATE) and only then
reads what it checks, so a second reviewer waits for the first one's commit and checks against it. Lock
order, to keep clear of deadlocks: the item, then the order/appeal/decision row, then the audit head.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from posbon.platform.webhooks import DecisionRecorded, DecisionReversed, enqueue_event
from posbon.policy import RESTRICTING_ACTIONS, Policy
from posbon.review import audit
from posbon.review.accounts import require_decider
from posbon.review.queue import entry_for, exclude
from posbon.review.session import ReviewError, aware, now_utc, write_session
from posbon.review.sor import (
    SOURCE_NOTICE,
    SOURCE_ORDER,
    SOURCE_TRUSTED_FLAGGER,
    SOURCE_VOLUNTARY,
    build_statement,
)
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.platform_models import NoticeRow
from posbon.store.review_models import AppealRow, DecisionRow, RemovalOrderRow, StatementOfReasonsRow

SYSTEM_ACTOR = "posbon"
MAX_COMPLAINT = 5000
ORDER_ACTIONS = ("remove", "geo_block")
DETECTION_ORDER = ("bank_match", "indicator", "classifier")
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of our clock a given receipt time may be


def detection_method(evidence: list[dict[str, object]]) -> str:
    kinds = {str(e.get("kind", "")) for e in evidence}
    return next((k for k in DETECTION_ORDER if k in kinds), "human")


def locked_item(s: Session, item_id: str | None) -> ItemRow | None:
    """The item's row, locked until the transaction ends (a no-op on SQLite, whose write transaction is
    exclusive already); None if there is no such item (any more: purged). Take it before reading anything
    the rules check."""
    if item_id is None:
        return None
    return s.get(ItemRow, item_id, with_for_update=True, populate_existing=True)


def _lock_item(s: Session, item_id: str) -> ItemRow:
    item = locked_item(s, item_id)
    if item is None:
        raise ReviewError(f"no item with id {item_id!r}")
    return item


def _lock_decision(s: Session, decision_id: int) -> DecisionRow:
    """A decision, its item locked first (then the decision's own row: it may have lost its item)."""
    locked_item(s, s.scalar(select(DecisionRow.item_id).where(DecisionRow.id == decision_id)))
    decision = s.get(DecisionRow, decision_id, with_for_update=True, populate_existing=True)
    if decision is None:
        raise ReviewError(f"no decision with id {decision_id}")
    return decision


def _deciders(s: Session, decision: DecisionRow) -> set[str]:
    names = {decision.reviewer}
    if decision.second_review_of is not None:
        first = s.get(DecisionRow, decision.second_review_of)
        if first is not None:
            names.add(first.reviewer)
    return names


def _decide_in(
    s: Session,
    item_id: str,
    action: str,
    *,
    reviewer: str,
    reason: str,
    policy: Policy,
    category: str | None,
    automated: bool,
    territorial_scope: list[str] | None = None,
    order: RemovalOrderRow | None = None,
) -> DecisionRow:
    if action not in policy.actions:
        raise ReviewError(
            f"policy {policy.id} v{policy.version} allows {', '.join(policy.actions)}, not {action!r}"
        )
    reason = reason.strip()
    if not reason:
        raise ReviewError("a decision needs a reason")
    item = _lock_item(s, item_id)  # every check below sees the decisions committed before this one
    place = entry_for(s, item, policy)
    category = category or place.category
    if category not in policy.categories:
        raise ReviewError(
            f"unknown category {category!r}: policy {policy.id} has {', '.join(policy.categories)}"
        )
    if s.scalar(
        select(AppealRow.id)
        .join(DecisionRow, DecisionRow.id == AppealRow.decision_id)
        .where(DecisionRow.item_id == item_id, AppealRow.status == "open")
    ):
        raise ReviewError(f"item {item_id} has an open appeal: resolve it (resolve_appeal) instead")
    pending = s.scalar(
        select(DecisionRow)
        .where(DecisionRow.item_id == item_id, DecisionRow.status == "pending_second_review")
        .order_by(DecisionRow.id.desc())
    )
    first: DecisionRow | None = None
    excluded: set[str] = set()
    if pending is not None and order is None:
        if automated:
            raise ReviewError(f"decision {pending.id} waits for a second review by a human")
        deciders = _deciders(s, pending)
        if reviewer in deciders:
            raise ReviewError(f"decision {pending.id} needs a second reviewer other than {reviewer}")
        pending.status = "superseded"
        if action == pending.action:
            first, status = pending, "final"  # confirmed
        else:  # overridden: the new action is judged by the policy on its own, by yet another pair of eyes
            needs = policy.needs_second_review(action, item.verdict)
            status = "pending_second_review" if needs else "final"
            first = pending if status == "final" else None
            excluded = deciders | {reviewer}
    else:
        if pending is not None:
            pending.status = "superseded"  # a removal order overrides a pending decision
        current = s.scalar(
            select(DecisionRow)
            .where(
                DecisionRow.item_id == item_id,
                DecisionRow.status == "final",
                DecisionRow.action != "escalate",
            )
            .order_by(DecisionRow.id.desc())
        )
        if current is not None and order is None:
            raise ReviewError(
                f"item {item_id} already has a final decision ({current.id}, {current.action}); "
                "a change goes through an appeal"
            )
        if current is not None:
            current.status = "superseded"
        needs = order is None and policy.needs_second_review(action, item.verdict, automated=automated)
        status = "pending_second_review" if needs else "final"
        excluded = {reviewer}
    restricting = action in RESTRICTING_ACTIONS
    decision = DecisionRow(
        item_id=item_id,
        action=action,
        category=category,
        policy_id=policy.id,
        policy_version=policy.version,
        jurisdiction=policy.jurisdiction,
        reviewer=reviewer,
        reason=reason,
        decided_at=now_utc(),
        automated=automated,
        second_review_of=first.id if first is not None else None,
        status=status,
        territorial_scope=sorted(territorial_scope or policy.territorial_scope) if restricting else [],
        source_type=SOURCE_ORDER if order is not None else _notice_source(s, item_id),
        removal_order_id=order.id if order is not None else None,
        item_source=item.source,
        item_language=item.language,
        item_verdict=item.verdict,
        detection=detection_method(list(item.evidence or [])),
        item_seen_at=aware(item.first_seen_at),
    )
    s.add(decision)
    s.flush()
    sor_id = None
    if status == "final" and restricting:
        statement = StatementOfReasonsRow(
            decision_id=decision.id,
            puid=item.item_id,
            payload=build_statement(decision, item, policy, first=first),
            created_at=now_utc(),
        )
        s.add(statement)
        s.flush()
        sor_id = statement.id
    if status == "pending_second_review":
        place.state, place.reason = "open", "second_review"
        exclude(place, *excluded)
    elif action == "escalate":
        place.state, place.reason = "open", "escalated"
    else:
        place.state, place.reason = "closed", "decided"
    audit.append(
        s,
        actor=reviewer,
        action="decision.pending" if status == "pending_second_review" else "decision.final",
        subject=f"item:{item_id}",
        details={
            "decision_id": decision.id,
            "action": action,
            "category": category,
            "policy": f"{policy.id} v{policy.version}",
            "status": status,
            "automated": automated,
            "second_review_of": decision.second_review_of,
            "removal_order_id": decision.removal_order_id,
            "statement_of_reasons_id": sor_id,
            "reason": reason,
        },
    )
    enqueue_event(s, DecisionRecorded(decision.id, sor_id))
    return decision


def decide(
    store: Store,
    item_id: str,
    action: str,
    *,
    reviewer: str,
    reason: str,
    policy: Policy,
    category: str | None = None,
    automated: bool = False,
    territorial_scope: list[str] | None = None,
) -> DecisionRow:
    """Record a decision on an item under `policy`.

    A decision the policy wants four eyes on is stored as pending_second_review; a later `decide` on the same
    item by a different reviewer confirms it (same action) or overrides it (another action). A final
    restricting decision (remove, restrict, geo_block, label) gets a statement of reasons. `automated`
    decisions are taken by posbon itself (`reviewer` names the rule or model); otherwise `reviewer` must be
    an enabled user with the reviewer or admin role.
    """
    if automated:
        reviewer = reviewer or SYSTEM_ACTOR
    else:
        require_decider(store, reviewer)
    with write_session(store) as s:
        return _decide_in(
            s,
            item_id,
            action,
            reviewer=reviewer,
            reason=reason,
            policy=policy,
            category=category,
            automated=automated,
            territorial_scope=territorial_scope,
        )


def appeal(store: Store, decision_id: int, complaint: str) -> AppealRow:
    """A complaint against a final decision (Art. 10 of Regulation 2021/784; DSA Art. 20). It puts the item
    back in the queue for a reviewer other than the one(s) who decided."""
    complaint = complaint.strip()
    if not complaint:
        raise ReviewError("a complaint needs its text")
    if len(complaint) > MAX_COMPLAINT:
        raise ReviewError(f"a complaint is at most {MAX_COMPLAINT} characters")
    with write_session(store) as s:
        decision = _lock_decision(s, decision_id)
        if decision.status != "final" or decision.action == "escalate":
            raise ReviewError(
                f"decision {decision_id} is {decision.status} ({decision.action}): not open to appeal"
            )
        if s.scalar(
            select(AppealRow.id).where(AppealRow.decision_id == decision_id, AppealRow.status == "open")
        ):
            raise ReviewError(f"decision {decision_id} already has an open appeal")
        row = AppealRow(decision_id=decision_id, complaint=complaint, received_at=now_utc(), status="open")
        s.add(row)
        s.flush()
        if decision.item_id is not None:
            item = s.get(ItemRow, decision.item_id)
            if item is not None:
                place = entry_for(s, item, _policy_stub(decision))
                place.state, place.reason = "open", "appeal"
                exclude(place, *_deciders(s, decision))
        audit.append(
            s,
            actor="complainant",
            action="appeal.open",
            subject=f"decision:{decision_id}",
            details={"appeal_id": row.id, "item_id": decision.item_id, "complaint_chars": len(complaint)},
        )
    return row


def _policy_stub(decision: DecisionRow) -> Policy:
    from posbon.policy import load_profile

    return load_profile("eu" if decision.jurisdiction == "eu" else "default")


def assign_appeal(store: Store, appeal_id: int, reviewer: str, *, actor: str = "cli") -> AppealRow:
    require_decider(store, reviewer)
    with write_session(store) as s:
        row, decision = _open_appeal(s, appeal_id)
        if reviewer in _deciders(s, decision):
            raise ReviewError(f"{reviewer} took decision {decision.id}: an appeal goes to someone else")
        row.assigned_reviewer = reviewer
        audit.append(
            s, actor=actor, action="appeal.assign", subject=f"appeal:{appeal_id}", details={"to": reviewer}
        )
    return row


def _open_appeal(s: Session, appeal_id: int) -> tuple[AppealRow, DecisionRow]:
    """An open appeal and its decision, locked (the item first, then the appeal) for resolving it."""
    locked_item(
        s,
        s.scalar(
            select(DecisionRow.item_id)
            .join(AppealRow, AppealRow.decision_id == DecisionRow.id)
            .where(AppealRow.id == appeal_id)
        ),
    )
    row = s.get(AppealRow, appeal_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise ReviewError(f"no appeal with id {appeal_id}")
    if row.status != "open":
        raise ReviewError(f"appeal {appeal_id} was already resolved ({row.status})")
    decision = s.get(DecisionRow, row.decision_id)
    if decision is None:
        raise ReviewError(f"appeal {appeal_id} points at a missing decision")
    return row, decision


def resolve_appeal(store: Store, appeal_id: int, *, reviewer: str, upheld: bool, reason: str) -> AppealRow:
    """Uphold the decision, or reverse it: the decision becomes `reversed` and the item is restored."""
    require_decider(store, reviewer)
    reason = reason.strip()
    if not reason:
        raise ReviewError("resolving an appeal needs a reason")
    with write_session(store) as s:
        row, decision = _open_appeal(s, appeal_id)
        if reviewer in _deciders(s, decision):
            raise ReviewError(
                f"{reviewer} took decision {decision.id}: another reviewer must resolve its appeal"
            )
        if row.assigned_reviewer and row.assigned_reviewer != reviewer:
            raise ReviewError(f"appeal {appeal_id} is assigned to another reviewer")
        row.assigned_reviewer = reviewer
        row.status = "upheld" if upheld else "reversed"
        row.resolved_at = now_utc()
        row.resolution_reason = reason
        if not upheld:
            decision.status = "reversed"
        if decision.item_id is not None:
            item = s.get(ItemRow, decision.item_id)
            if item is not None:
                place = entry_for(s, item, _policy_stub(decision))
                place.state, place.reason = "closed", "appeal_resolved"
        audit.append(
            s,
            actor=reviewer,
            action="appeal.upheld" if upheld else "appeal.reversed",
            subject=f"appeal:{appeal_id}",
            details={"decision_id": decision.id, "item_id": decision.item_id, "reason": reason},
        )
        if not upheld:
            audit.append(
                s,
                actor=reviewer,
                action="item.restored",
                subject=f"item:{decision.item_id}",
                details={
                    "decision_id": decision.id,
                    "action_undone": decision.action,
                    "appeal_id": appeal_id,
                },
            )
            enqueue_event(s, DecisionReversed(decision.id, appeal_id))
    return row


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return now_utc()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def record_order(
    store: Store,
    item_id: str,
    *,
    authority: str,
    reference: str,
    received_at: datetime | None = None,
    policy: Policy | None = None,
    actor: str = "cli",
) -> RemovalOrderRow:
    """A removal order (Art. 3 of Regulation 2021/784): due one hour (the policy's removal_order_hours)
    after receipt. The item goes to the front of the queue."""
    from posbon.policy import load_profile

    policy = policy or load_profile("eu")
    authority, reference = authority.strip(), reference.strip()
    if not authority or not reference:
        raise ReviewError("a removal order needs the issuing authority and its reference")
    received = _utc(received_at)
    if received > now_utc() + CLOCK_SKEW:
        # the clock runs from receipt: a sender's future time would move the deadline where it likes
        raise ReviewError(f"received_at {received.isoformat()} is in the future; leave it out for now")
    deadline = received + timedelta(hours=policy.removal_order_hours)
    with write_session(store) as s:
        item = _lock_item(s, item_id)
        order = RemovalOrderRow(
            item_id=item_id,
            authority=authority,
            reference=reference,
            received_at=received,
            deadline_at=deadline,
            status="open",
        )
        s.add(order)
        s.flush()
        place = entry_for(s, item, policy)
        current = aware(place.deadline_at) if place.urgent == 0 else None
        place.deadline_at = deadline if current is None else min(current, deadline)
        place.state, place.reason, place.urgent = "open", "order", 0
        audit.append(
            s,
            actor=actor,
            action="order.received",
            subject=f"item:{item_id}",
            details={
                "order_id": order.id,
                "authority": authority,
                "reference": reference,
                "deadline_at": deadline.isoformat(),
            },
        )
    return order


def action_order(
    store: Store,
    order_id: int,
    *,
    reviewer: str,
    policy: Policy,
    action: str = "remove",
    reason: str | None = None,
    not_actioned_reason: str | None = None,
) -> RemovalOrderRow:
    """Act on a removal order (remove or geo_block; no second review: the order is the second opinion), or
    record why it was not actioned (force majeure, manifest errors: Art. 3(7)-(8)) with
    `not_actioned_reason`."""
    require_decider(store, reviewer)
    with write_session(store) as s:
        # the item first (as _decide_in does), then the order
        locked_item(s, s.scalar(select(RemovalOrderRow.item_id).where(RemovalOrderRow.id == order_id)))
        order = s.get(RemovalOrderRow, order_id, with_for_update=True, populate_existing=True)
        if order is None:
            raise ReviewError(f"no removal order with id {order_id}")
        if order.status != "open":
            raise ReviewError(f"removal order {order_id} is already {order.status}")
        now = now_utc()
        decision_id = None
        if not_actioned_reason is not None:
            if not not_actioned_reason.strip():
                raise ReviewError("say why the order is not actioned")
            order.status, order.not_actioned_reason = "not_actioned", not_actioned_reason.strip()
        else:
            if action not in ORDER_ACTIONS:
                raise ReviewError(
                    f"a removal order is actioned by {' or '.join(ORDER_ACTIONS)}, not {action!r}"
                )
            if order.item_id is None:
                raise ReviewError(f"the item of removal order {order_id} was purged")
            decision = _decide_in(
                s,
                order.item_id,
                action,
                reviewer=reviewer,
                reason=reason or f"removal order {order.reference} from {order.authority}",
                policy=policy,
                category=None,
                automated=False,
                order=order,
            )
            decision_id = decision.id
            order.status, order.action, order.actioned_at = "actioned", action, now
        if order.item_id is not None:
            others = s.scalars(
                select(RemovalOrderRow.deadline_at).where(
                    RemovalOrderRow.item_id == order.item_id,
                    RemovalOrderRow.status == "open",
                    RemovalOrderRow.id != order.id,
                )
            ).all()
            item = s.get(ItemRow, order.item_id)
            if item is not None:
                place = entry_for(s, item, policy)
                if others:
                    place.deadline_at = min(aware(d) or now for d in others)
                else:
                    place.urgent, place.deadline_at = 1, None
                    if order.status == "not_actioned" and place.reason == "order":
                        place.state = "closed"
        deadline = aware(order.deadline_at) or now
        audit.append(
            s,
            actor=reviewer,
            action="order.actioned" if order.status == "actioned" else "order.not_actioned",
            subject=f"order:{order_id}",
            details={
                "item_id": order.item_id,
                "decision_id": decision_id,
                "within_deadline": now <= deadline,
                "not_actioned_reason": order.not_actioned_reason,
            },
        )
    return order


def orders_overdue(store: Store, now: datetime | None = None) -> list[RemovalOrderRow]:
    """Open removal orders past their deadline, the oldest deadline first."""
    moment = _utc(now)
    with store.session() as s:
        return list(
            s.scalars(
                select(RemovalOrderRow)
                .where(RemovalOrderRow.status == "open", RemovalOrderRow.deadline_at < moment)
                .order_by(RemovalOrderRow.deadline_at)
            ).all()
        )


def open_orders(store: Store) -> list[RemovalOrderRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(RemovalOrderRow)
                .where(RemovalOrderRow.status == "open")
                .order_by(RemovalOrderRow.deadline_at)
            ).all()
        )


def decisions_for(store: Store, item_id: str) -> list[DecisionRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(DecisionRow).where(DecisionRow.item_id == item_id).order_by(DecisionRow.id)
            ).all()
        )


def _notice_source(s: Session, item_id: str) -> str:
    """What brought the item to a decision, for the statement of reasons: a notice (Art. 16), a trusted
    flagger's notice (Art. 22), or posbon's own detection (voluntary)."""
    trusted = s.scalars(
        select(NoticeRow.trusted).where(
            NoticeRow.item_id == item_id, NoticeRow.status.in_(("open", "queued"))
        )
    ).all()
    if not trusted:
        return SOURCE_VOLUNTARY
    return SOURCE_TRUSTED_FLAGGER if any(trusted) else SOURCE_NOTICE

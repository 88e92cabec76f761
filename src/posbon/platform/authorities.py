"""Authority intake: removal orders (Regulation 2021/784 Art. 3) from competent authorities and referrals
from competent authorities or internet referral units, each arriving with the partner's own key.

The issuing authority is the key's partner, never a name in the request. An order goes through
`posbon.review.record_order` (the one-hour clock starts at receipt); a referral queues the item with reason
"referral" for a voluntary assessment against the platform's terms. When an order, referral or decision
involves an imminent threat to life, posbon prepares the notification Art. 14(5) asks the provider to send
to the competent law-enforcement authorities: a stored document and a `threat_to_life` webhook event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from posbon.platform.partners import ACTOR_PREFIX, AUTHORITY_KINDS
from posbon.platform.webhooks import WebhookEvent, enqueue_event
from posbon.policy import Policy
from posbon.review import audit
from posbon.review.decisions import record_order
from posbon.review.policies import active_policy
from posbon.review.queue import entry_for
from posbon.review.session import ReviewError, aware, now_utc, write_session
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.platform_models import AuthorityRequestRow, PartnerRow, ThreatNotificationRow
from posbon.store.review_models import DecisionRow, RemovalOrderRow

REQUEST_KINDS = ("removal_order", "referral")
LEGAL_BASIS_THREAT = "Regulation (EU) 2021/784, Art. 14(5); Regulation (EU) 2022/2065, Art. 18"
STRONGER_REASONS = frozenset({"order", "second_review", "appeal"})


class NotAllowed(ReviewError):
    """The partner may not send this kind of request (API: 403)."""


class NotHeld(ReviewError):
    """The request names content posbon does not hold (API: 404)."""


@dataclass(frozen=True)
class IntakeResult:
    request_id: int
    kind: str
    authority: str
    item_id: str
    removal_order_id: int | None
    deadline_at: datetime | None
    threat_notification_id: int | None


def _find_item(s: Session, item_id: str | None, url: str | None) -> ItemRow:
    item = s.get(ItemRow, item_id) if item_id else None
    if item is None and url:
        item = s.scalar(select(ItemRow).where(ItemRow.url == url).limit(1))
    if item is None:
        raise NotHeld(f"posbon holds no item {'id ' + repr(item_id) if item_id else 'at ' + repr(url)}")
    return item


def prepare_threat_notification(
    s: Session,
    *,
    item: ItemRow | None,
    item_id: str | None,
    note: str,
    source: str,
    decision: DecisionRow | None = None,
    order_id: int | None = None,
    actor: str,
) -> ThreatNotificationRow:
    """Store the Art. 14(5) notification document and put a `threat_to_life` event in the outbox."""
    document: dict[str, Any] = {
        "legal_basis": LEGAL_BASIS_THREAT,
        "addressee": "the authorities competent for the investigation and prosecution of criminal offences "
        "in the Member States concerned (Europol where none can be identified)",
        "prepared_at": now_utc().isoformat(),
        "raised_by": source,
        "content": {
            "item_id": item_id,
            "source": item.source if item is not None else None,
            "external_id": item.external_id if item is not None else None,
            "url": item.url if item is not None else None,
            "language": item.language if item is not None else None,
        },
        "decision": (
            {"id": decision.id, "action": decision.action, "policy": decision.policy_id}
            if decision is not None
            else None
        ),
        "removal_order_id": order_id,
        "note": note,
    }
    row = ThreatNotificationRow(
        created_at=now_utc(),
        item_id=item_id if item is not None else None,
        decision_id=decision.id if decision is not None else None,
        removal_order_id=order_id,
        document=document,
    )
    s.add(row)
    s.flush()
    enqueue_event(s, WebhookEvent("threat_to_life", {"notification_id": row.id, "document": document}))
    audit.append(
        s,
        actor=actor,
        action="threat.prepared",
        subject=f"item:{item_id}",
        details={"notification_id": row.id, "decision_id": row.decision_id, "removal_order_id": order_id},
    )
    return row


def receive_request(
    store: Store,
    partner: PartnerRow,
    *,
    kind: str,
    reference: str,
    item_id: str | None = None,
    url: str | None = None,
    received_at: datetime | None = None,
    imminent_threat: bool = False,
    threat_note: str = "",
    policy: Policy | None = None,
) -> IntakeResult:
    """Record a removal order or referral from `partner` (the authority authenticated by its key)."""
    if partner.kind not in AUTHORITY_KINDS:
        raise NotAllowed(f"{partner.name} is a {partner.kind}: orders and referrals come from authorities")
    if kind not in REQUEST_KINDS:
        raise ReviewError(f"kind must be one of {', '.join(REQUEST_KINDS)}, got {kind!r}")
    if kind == "removal_order" and partner.kind != "competent_authority":
        raise NotAllowed(
            f"{partner.name} is an internet referral unit: it sends referrals, not removal orders"
        )
    reference = reference.strip()
    if not reference:
        raise ReviewError("the request needs its reference")
    actor = f"{ACTOR_PREFIX}{partner.name}"
    with store.session() as s:
        found = _find_item(s, item_id, url)
        held_id = found.item_id
        earlier = s.scalar(
            select(AuthorityRequestRow)
            .where(
                AuthorityRequestRow.partner_id == partner.id,
                AuthorityRequestRow.kind == kind,
                AuthorityRequestRow.reference == reference,
                AuthorityRequestRow.item_id == held_id,
            )
            .order_by(AuthorityRequestRow.id)
            .limit(1)
        )
        if earlier is not None:
            # the same order sent again (a client retrying after a timeout): the first one stands, with
            # its deadline; a second order would double the clock and the transparency counts
            return _earlier_result(s, earlier, partner)
    policy = policy or active_policy(store)
    order: RemovalOrderRow | None = None
    if kind == "removal_order":
        order = record_order(
            store,
            held_id,
            authority=partner.name,
            reference=reference,
            received_at=received_at,
            policy=policy,
            actor=actor,
        )
    with write_session(store) as s:
        item = s.get(ItemRow, held_id)
        if item is None:
            raise NotHeld(f"item {held_id!r} was purged")
        if kind == "referral":
            place = entry_for(s, item, policy)
            if not (place.state == "open" and place.reason in STRONGER_REASONS):
                place.state, place.reason = "open", "referral"
            place.synced_at = now_utc()
        request = AuthorityRequestRow(
            partner_id=partner.id,
            kind=kind,
            item_id=held_id,
            reference=reference,
            received_at=order.received_at if order is not None else (aware(received_at) or now_utc()),
            removal_order_id=order.id if order is not None else None,
            imminent_threat=imminent_threat,
        )
        s.add(request)
        s.flush()
        if kind == "referral":
            audit.append(
                s,
                actor=actor,
                action="referral.received",
                subject=f"item:{held_id}",
                details={"request_id": request.id, "authority": partner.name, "reference": reference},
            )
        threat_id = None
        if imminent_threat:
            threat = prepare_threat_notification(
                s,
                item=item,
                item_id=held_id,
                note=threat_note
                or f"{kind} {reference} from {partner.name} flags an imminent threat to life",
                source=f"{kind} from {partner.name}",
                order_id=order.id if order is not None else None,
                actor=actor,
            )
            threat_id = threat.id
        request_id = request.id
    return IntakeResult(
        request_id=request_id,
        kind=kind,
        authority=partner.name,
        item_id=held_id,
        removal_order_id=order.id if order is not None else None,
        deadline_at=aware(order.deadline_at) if order is not None else None,
        threat_notification_id=threat_id,
    )


def _earlier_result(s: Session, request: AuthorityRequestRow, partner: PartnerRow) -> IntakeResult:
    order = s.get(RemovalOrderRow, request.removal_order_id) if request.removal_order_id else None
    threat_id = s.scalar(
        select(ThreatNotificationRow.id)
        .where(
            ThreatNotificationRow.item_id == request.item_id,
            ThreatNotificationRow.removal_order_id == request.removal_order_id
            if request.removal_order_id is not None
            else ThreatNotificationRow.removal_order_id.is_(None),
        )
        .order_by(ThreatNotificationRow.id)
        .limit(1)
    )
    return IntakeResult(
        request_id=request.id,
        kind=request.kind,
        authority=partner.name,
        item_id=str(request.item_id),
        removal_order_id=request.removal_order_id,
        deadline_at=aware(order.deadline_at) if order is not None else None,
        threat_notification_id=threat_id if request.imminent_threat else None,
    )


def flag_decision_threat(store: Store, decision_id: int, *, note: str, actor: str) -> ThreatNotificationRow:
    """A reviewer found that a decided item involves an imminent threat to life: prepare the notification."""
    note = note.strip()
    if not note:
        raise ReviewError("say what the threat is (the note goes into the notification)")
    with write_session(store) as s:
        decision = s.get(DecisionRow, decision_id)
        if decision is None:
            raise NotHeld(f"no decision with id {decision_id}")
        item = s.get(ItemRow, decision.item_id) if decision.item_id else None
        return prepare_threat_notification(
            s,
            item=item,
            item_id=decision.item_id,
            note=note,
            source=f"decision {decision_id}",
            decision=decision,
            order_id=decision.removal_order_id,
            actor=actor,
        )


def threat_notifications(store: Store, limit: int = 200) -> list[ThreatNotificationRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(ThreatNotificationRow).order_by(ThreatNotificationRow.id.desc()).limit(limit)
            ).all()
        )

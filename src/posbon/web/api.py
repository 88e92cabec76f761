"""The JSON API (/api/v1): the same services as the pages, for machine clients with an API key.

Every response has a declared pydantic model, so /openapi.json describes it exactly. Cookie-authenticated
calls that change state need the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from posbon.review.queue import MAX_QUEUE_NAME
from posbon.web.app import WebState
from posbon.web.auth import AuthFirstRoute, Reviewer, Viewer
from posbon.web.services import MAX_ROW_ID, OrderView, ReviewError, aware
from posbon.web.views import item_view

RowId = Annotated[int, Path(ge=0, le=MAX_ROW_ID)]

router = APIRouter(prefix="/api/v1", tags=["review"], route_class=AuthFirstRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key or session"},
    403: {"description": "Role too low, or CSRF token missing (cookie auth)"},
}
# Routes with a JSON body: FastAPI answers 400 when the body cannot be decoded at all (e.g. not UTF-8).
BODY_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 400: {"description": "The body could not be read"}}


class QueueEntryOut(BaseModel):
    item_id: str
    verdict: str
    risk: float
    priority: float
    language: str
    reason: str = Field(description="why it is queued: new | second_review | appeal | order")
    jurisdiction: str
    category: str
    excerpt: str
    order_id: int | None
    deadline: datetime | None = Field(description="deadline of an open removal order (UTC)")
    overdue: bool
    queue: str = Field(
        description='the named queue a live routing rule routed it to; "default" if no rule routed it'
    )


class MediaOut(BaseModel):
    index: int
    reference: str
    kind: str
    available: bool
    url: str | None


class EvidenceOut(BaseModel):
    kind: str
    signal_type: str | None = None
    bank: str | None = None
    entry_id: int | None = None
    entry_label: str | None = None
    distance: int | None = None
    similarity: float | None = None
    detail: str = ""
    span: list[int] | None = None
    matched_text: str | None = None
    origin: str | None = None
    box: list[int] | None = None
    confidence: float | None = None
    weight: float | None = None
    category: str | None = None  # an indicator's category
    context: str | None = None  # a context evidence's kind: reporting, promotion or unknown
    probability: float | None = None  # a classifier's probability 0..1


class DecisionOut(BaseModel):
    id: int
    item_id: str | None
    action: str
    category: str
    status: str
    reviewer: str
    reason: str
    policy_id: str
    policy_version: int
    jurisdiction: str
    decided_at: datetime


class AppealOut(BaseModel):
    id: int
    decision_id: int
    complaint: str
    status: str
    received_at: datetime
    assigned_reviewer: str | None
    resolved_at: datetime | None
    resolution_reason: str | None


class OrderOut(BaseModel):
    id: int
    item_id: str | None
    authority: str
    reference: str
    received_at: datetime
    deadline: datetime
    status: str
    actioned_at: datetime | None
    overdue: bool


class ItemOut(BaseModel):
    item_id: str
    source: str
    external_id: str
    text: str
    language: str
    language_confidence: float
    verdict: str
    risk: float
    created_at: datetime | None
    links: dict[str, list[str]]
    media: list[MediaOut]
    evidence: list[EvidenceOut]
    in_queue: bool
    decisions: list[DecisionOut]
    appeals: list[AppealOut]
    orders: list[OrderOut]


class DecisionIn(BaseModel):
    action: str = Field(
        max_length=20, description="remove | restrict | geo_block | label | no_action | escalate"
    )
    reason: str = Field("", max_length=5000)
    category: str | None = Field(None, max_length=60)


class AppealIn(BaseModel):
    complaint: str = Field(min_length=1, max_length=5000)


class AppealResolutionIn(BaseModel):
    upheld: bool
    reason: str = Field(min_length=1, max_length=5000)


class OrderIn(BaseModel):
    authority: str = Field(min_length=1, max_length=300)
    reference: str = Field(min_length=1, max_length=300)
    received_at: datetime | None = Field(None, description="when the order was received; default now")


def _web(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def _decision_out(row: Any) -> DecisionOut:
    return DecisionOut(
        id=row.id,
        item_id=row.item_id,
        action=row.action,
        category=row.category,
        status=row.status,
        reviewer=row.reviewer,
        reason=row.reason,
        policy_id=row.policy_id,
        policy_version=row.policy_version,
        jurisdiction=row.jurisdiction,
        decided_at=aware(row.decided_at) or row.decided_at,
    )


def _appeal_out(row: Any) -> AppealOut:
    return AppealOut(
        id=row.id,
        decision_id=row.decision_id,
        complaint=row.complaint,
        status=row.status,
        received_at=aware(row.received_at) or row.received_at,
        assigned_reviewer=row.assigned_reviewer,
        resolved_at=aware(row.resolved_at),
        resolution_reason=row.resolution_reason,
    )


def _order_out(view: OrderView) -> OrderOut:
    return OrderOut(
        id=view.id,
        item_id=view.item_id,
        authority=view.authority,
        reference=view.reference,
        received_at=view.received_at,
        deadline=view.deadline_at,
        status=view.status,
        actioned_at=view.actioned_at,
        overdue=view.overdue,
    )


def _refused(exc: ReviewError) -> HTTPException:
    return HTTPException(status_code=409, detail=str(exc))


@router.get("/queue", response_model=list[QueueEntryOut], responses=ERRORS)
def get_queue(
    request: Request,
    _p: Viewer,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    jurisdiction: str | None = Query(None, max_length=20),
    queue: str | None = Query(
        None,
        max_length=MAX_QUEUE_NAME,
        description='only the items routed to this named queue; "default": those no routing rule routed',
    ),
) -> list[QueueEntryOut]:
    """Queued items, most urgent first (open removal orders, then priority)."""
    entries = _web(request).services.queue(
        limit=limit, offset=offset, jurisdiction=jurisdiction, queue_name=queue or None
    )
    return [
        QueueEntryOut(
            item_id=e.item_id,
            verdict=e.verdict,
            risk=e.risk,
            priority=e.priority,
            language=e.language,
            reason=e.reason,
            jurisdiction=e.jurisdiction,
            category=e.category,
            excerpt=e.excerpt,
            order_id=e.order_id,
            deadline=datetime.fromisoformat(e.deadline.replace("Z", "+00:00")) if e.deadline else None,
            overdue=e.overdue,
            queue=e.queue,
        )
        for e in entries
    ]


def _evidence(ev: dict[str, Any]) -> EvidenceOut:
    known = EvidenceOut.model_fields
    try:
        return EvidenceOut.model_validate({k: v for k, v in ev.items() if k in known})
    except ValueError:
        return EvidenceOut(kind=str(ev.get("kind", "")), detail="(evidence record could not be read)")


@router.get(
    "/items/{item_id}", response_model=ItemOut, responses={**ERRORS, 404: {"description": "No such item"}}
)
def get_item(
    request: Request,
    principal: Viewer,
    item_id: str,
) -> ItemOut:
    """One item with its evidence, media references, decisions, appeals and removal orders."""
    from posbon.review.access import record_access

    services = _web(request).services
    item = services.item(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id!r}")
    record_access(_web(request).store, actor=principal.name, item_id=item_id, via="api")
    view = item_view(item)
    links = item.links if isinstance(item.links, dict) else {}
    return ItemOut(
        item_id=item.item_id,
        source=item.source,
        external_id=item.external_id,
        text=item.text or "",
        language=item.language,
        language_confidence=float(item.language_confidence or 0.0),
        verdict=item.verdict,
        risk=float(item.risk or 0.0),
        created_at=aware(item.created_at),
        links={str(k): [str(x) for x in v] for k, v in links.items() if isinstance(v, list)},
        media=[
            MediaOut(
                index=m.index,
                reference=m.reference,
                kind=m.kind,
                available=m.available,
                url=f"/items/{item.item_id}/media/{m.index}" if m.available else None,
            )
            for m in view.media
        ],
        evidence=[_evidence(ev) for ev in (item.evidence or []) if isinstance(ev, dict)],
        in_queue=services.queue_entry(item_id) is not None,
        decisions=[_decision_out(d) for d in services.decisions_for(item_id)],
        appeals=[_appeal_out(a) for a in services.appeals_for(item_id)],
        orders=[_order_out(o) for o in services.orders_for(item_id)],
    )


@router.post(
    "/items/{item_id}/decisions",
    response_model=DecisionOut,
    status_code=201,
    responses={
        **BODY_ERRORS,
        404: {"description": "No such item"},
        409: {"description": "Refused by the rules"},
    },
)
def post_decision(
    request: Request,
    principal: Reviewer,
    item_id: str,
    body: DecisionIn,
) -> DecisionOut:
    """Decide a queued item under the active policy (its version is recorded with the decision)."""
    services = _web(request).services
    if services.item(item_id) is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id!r}")
    try:
        decision = services.decide(
            item_id, body.action, reviewer=principal.name, reason=body.reason, category=body.category
        )
    except ReviewError as exc:
        raise _refused(exc) from exc
    row = services.decision(int(decision.id))
    return _decision_out(row if row is not None else decision)


@router.post(
    "/decisions/{decision_id}/appeals",
    response_model=AppealOut,
    status_code=201,
    responses={
        **BODY_ERRORS,
        404: {"description": "No such decision"},
        409: {"description": "Refused by the rules"},
    },
)
def post_appeal(
    request: Request,
    principal: Reviewer,
    decision_id: RowId,
    body: AppealIn,
) -> AppealOut:
    """Record a complaint against a decision: the item goes back to the queue for a different reviewer."""
    services = _web(request).services
    if services.decision(decision_id) is None:
        raise HTTPException(status_code=404, detail=f"no decision {decision_id}")
    try:
        appeal = services.appeal(decision_id, body.complaint, actor=principal.name)
    except ReviewError as exc:
        raise _refused(exc) from exc
    return _appeal_out(appeal)


@router.post(
    "/appeals/{appeal_id}/resolution",
    response_model=AppealOut,
    responses={**BODY_ERRORS, 409: {"description": "Refused by the rules (e.g. the original reviewer)"}},
)
def post_appeal_resolution(
    request: Request,
    principal: Reviewer,
    appeal_id: RowId,
    body: AppealResolutionIn,
) -> AppealOut:
    """Uphold or reverse a decision under appeal (a reviewer other than the one who decided)."""
    try:
        appeal = _web(request).services.resolve_appeal(
            appeal_id, reviewer=principal.name, upheld=body.upheld, reason=body.reason
        )
    except ReviewError as exc:
        raise _refused(exc) from exc
    return _appeal_out(appeal)


@router.post(
    "/items/{item_id}/orders",
    response_model=OrderOut,
    status_code=201,
    responses={
        **BODY_ERRORS,
        404: {"description": "No such item"},
        409: {"description": "Refused by the rules"},
    },
)
def post_order(
    request: Request,
    principal: Reviewer,
    item_id: str,
    body: OrderIn,
) -> OrderOut:
    """Record a removal order against an item; the deadline (one hour in the EU) starts at receipt."""
    services = _web(request).services
    if services.item(item_id) is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id!r}")
    try:
        order = services.record_order(
            item_id,
            authority=body.authority,
            reference=body.reference,
            received_at=aware(body.received_at),
            actor=principal.name,
        )
    except ReviewError as exc:
        raise _refused(exc) from exc
    return _order_out(order)


@router.get("/orders", response_model=list[OrderOut], responses=ERRORS)
def get_orders(
    request: Request,
    _p: Viewer,
    overdue: int = Query(0, ge=0, le=1, description="1: only open orders past their deadline"),
) -> list[OrderOut]:
    """Removal orders, newest deadline first."""
    return [_order_out(o) for o in _web(request).services.orders(overdue_only=bool(overdue))]

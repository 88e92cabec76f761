"""Platform integration API (/api/v1): notices (DSA Art. 16), authority orders and referrals, Art. 14(5)
threat-to-life notifications, and webhook deliveries. See docs/platform.md.

Partner keys (authorities, trusted flaggers; `posbon authority add`) authenticate here and nowhere else:
`partner_of` turns such a key into a caller for this request only, so a partner never reads the queue.
Every route still declares its least role (test_web_routes checks that); `/orders` then also refuses any
caller that is not an authority's key (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from posbon.platform import authorities, notices, webhooks
from posbon.platform.partners import ACTOR_PREFIX, TOKEN_PREFIX, verify_partner_key
from posbon.review.session import ReviewError, aware
from posbon.store.platform_models import PartnerRow, WebhookDeliveryRow
from posbon.web.api import RowId
from posbon.web.app import WebState
from posbon.web.auth import Admin, Principal, Reviewer, Viewer

# Out of /openapi.json for now, like the other new routers: tests/test_api_schema.py fuzzes the review API
# only and expects every POST to refuse a viewer, which notices (open to any key) do not.
router = APIRouter(prefix="/api/v1", tags=["platform"], include_in_schema=False)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key, partner key or session"},
    403: {"description": "Role too low, wrong kind of key, or CSRF token missing (cookie auth)"},
    422: {"description": "Invalid input: `detail` lists the fields"},
}


def _web(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def partner_of(request: Request) -> PartnerRow | None:
    """The partner whose key is in `Authorization: Bearer`, made this request's (viewer-level) caller."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        return None
    partner = verify_partner_key(_web(request).store, token)
    if partner is not None:
        request.state.principal = Principal(
            name=f"{ACTOR_PREFIX}{partner.name}", role="viewer", via="partner"
        )
    return partner


PartnerKey = Annotated[PartnerRow | None, Depends(partner_of)]


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


# Every string of a request body: neither PostgreSQL text nor UTF-8 can hold NUL or a lone surrogate, so
# they are refused here (a 422 naming the field), not by the database (a 500). pydantic's own str check for
# surrogates is skipped once a validator and a length limit are on an optional field, hence the explicit one.
Text = Annotated[str, AfterValidator(_storable)]


class NoticeBody(BaseModel):
    item_id: Text | None = Field(None, max_length=32, description="the item, if posbon holds it")
    url: Text | None = Field(None, max_length=2000, description="the exact URL of the content")
    explanation: Text = Field(max_length=5000, description="why the notifier considers the content illegal")
    notifier_name: Text | None = Field(None, max_length=200)
    notifier_email: Text | None = Field(None, max_length=320)
    csam_exemption: bool = Field(
        False,
        description="the notice concerns offences of Arts. 3-7 of Directive 2011/93/EU: no contact needed",
    )
    good_faith: StrictBool = Field(description="the notifier's good-faith statement; must be JSON true")
    category: Text | None = Field(None, max_length=60)


class NoticeReceipt(BaseModel):
    id: int
    received_at: datetime
    status: str = Field(description="open (URL not held yet) | queued | decided")
    item_id: str | None
    trusted: bool


class NoticeStatusOut(NoticeReceipt):
    decision_id: int | None
    decided_at: datetime | None
    outcome: str | None


class AuthorityRequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid"
    )  # the issuer comes from the key: an `authority` field is refused

    kind: Text = Field(pattern="^(removal_order|referral)$")
    reference: Text = Field(min_length=1, max_length=300)
    item_id: Text | None = Field(None, max_length=32)
    url: Text | None = Field(None, max_length=2000)
    received_at: datetime | None = Field(None, description="when the order was received; default now")
    imminent_threat: bool = Field(False, description="the content involves an imminent threat to life")
    threat_note: Text = Field("", max_length=2000)


class IntakeOut(BaseModel):
    request_id: int
    kind: str
    authority: str
    item_id: str
    removal_order_id: int | None
    deadline: datetime | None
    threat_notification_id: int | None


class ThreatIn(BaseModel):
    note: Text = Field(min_length=1, max_length=2000)


class ThreatOut(BaseModel):
    id: int
    item_id: str | None
    decision_id: int | None
    removal_order_id: int | None
    document: dict[str, Any]


class DeliveryOut(BaseModel):
    id: int
    event_id: int
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


def _receipt_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": aware(row.received_at) or row.received_at,
        "status": row.status,
        "item_id": row.item_id,
        "trusted": row.trusted,
    }


def _delivery_out(row: WebhookDeliveryRow) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        endpoint_id=row.endpoint_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=aware(row.next_attempt_at),
        delivered_at=aware(row.delivered_at),
        last_error=row.last_error,
    )


@router.post(
    "/notices",
    response_model=NoticeReceipt,
    status_code=201,
    responses=ERRORS,
    dependencies=[Depends(partner_of)],
)
def post_notice(request: Request, partner: PartnerKey, principal: Viewer, body: NoticeBody) -> NoticeReceipt:
    """Receive a notice (DSA Art. 16) and acknowledge it; a trusted flagger's key marks it trusted."""
    trusted = partner is not None and partner.kind == "trusted_flagger"
    try:
        row = notices.submit_notice(
            _web(request).store,
            notices.NoticeIn(**body.model_dump()),
            submitted_by=principal.name,
            trusted=trusted,
        )
    except notices.NoticeInvalid as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", f), "msg": m, "input": None} for f, m in exc.problems]
        ) from exc
    return NoticeReceipt(**_receipt_fields(row))


@router.get(
    "/notices/{notice_id}",
    response_model=NoticeStatusOut,
    responses={**ERRORS, 404: {"description": "No such notice (or not yours)"}},
    dependencies=[Depends(partner_of)],
)
def get_notice(
    request: Request, _partner: PartnerKey, principal: Viewer, notice_id: RowId
) -> NoticeStatusOut:
    """A notice's status and outcome, for whoever sent it (or a reviewer). Never the notifier's contact."""
    row = notices.get_notice(_web(request).store, notice_id)
    if row is None or (row.submitted_by != principal.name and not principal.can("reviewer")):
        raise HTTPException(status_code=404, detail=f"no notice {notice_id} sent by you")
    return NoticeStatusOut(
        **_receipt_fields(row),
        decision_id=row.decision_id,
        decided_at=aware(row.decided_at),
        outcome=row.outcome,
    )


@router.post(
    "/orders",
    response_model=IntakeOut,
    status_code=201,
    responses={**ERRORS, 404: {"description": "posbon holds no such item"}, 409: {"description": "Refused"}},
    dependencies=[Depends(partner_of)],
)
def post_authority_request(
    request: Request, partner: PartnerKey, _p: Viewer, body: AuthorityRequestIn
) -> IntakeOut:
    """A removal order or referral, sent with the authority's own key (`posbon authority add`)."""
    if partner is None:
        raise HTTPException(status_code=403, detail="orders and referrals need an authority's key")
    try:
        result = authorities.receive_request(
            _web(request).store,
            partner,
            kind=body.kind,
            reference=body.reference,
            item_id=body.item_id,
            url=body.url,
            received_at=aware(body.received_at),
            imminent_threat=body.imminent_threat,
            threat_note=body.threat_note,
        )
    except authorities.NotAllowed as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    except authorities.NotHeld as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except ReviewError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return IntakeOut(
        request_id=result.request_id,
        kind=result.kind,
        authority=result.authority,
        item_id=result.item_id,
        removal_order_id=result.removal_order_id,
        deadline=result.deadline_at,
        threat_notification_id=result.threat_notification_id,
    )


@router.post(
    "/decisions/{decision_id}/threat-to-life",
    response_model=ThreatOut,
    status_code=201,
    responses={**ERRORS, 404: {"description": "No such decision"}},
)
def post_threat(request: Request, principal: Reviewer, decision_id: RowId, body: ThreatIn) -> ThreatOut:
    """Flag a decided item as involving an imminent threat to life: prepares the Art. 14(5) notification."""
    try:
        row = authorities.flag_decision_threat(
            _web(request).store, decision_id, note=body.note, actor=principal.name
        )
    except authorities.NotHeld as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except ReviewError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return ThreatOut(
        id=row.id,
        item_id=row.item_id,
        decision_id=row.decision_id,
        removal_order_id=row.removal_order_id,
        document=row.document,
    )


@router.get("/webhooks/deliveries", response_model=list[DeliveryOut], responses=ERRORS)
def get_deliveries(
    request: Request,
    _p: Admin,
    status: str | None = Query(None, pattern="^(pending|delivered|failed)$"),
) -> list[DeliveryOut]:
    """Webhook deliveries, newest first (`?status=failed` for the ones to retry)."""
    return [_delivery_out(d) for d in webhooks.list_deliveries(_web(request).store, status=status)]


@router.post(
    "/webhooks/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses={**ERRORS, 404: {"description": "No such delivery"}, 409: {"description": "Already delivered"}},
)
def post_retry(request: Request, principal: Admin, delivery_id: RowId) -> DeliveryOut:
    """Schedule a failed delivery for a new round of attempts (the next `posbon webhook deliver`)."""
    store = _web(request).store
    if webhooks.get_delivery(store, delivery_id) is None:
        raise HTTPException(status_code=404, detail=f"no webhook delivery {delivery_id}")
    try:
        row = webhooks.retry_delivery(store, delivery_id, actor=principal.name)
    except webhooks.WebhookError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return _delivery_out(row)

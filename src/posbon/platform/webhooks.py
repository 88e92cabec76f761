"""Action webhooks: decisions, reversals, statements of reasons and notice outcomes, delivered to the
platform's endpoints as signed JSON, at least once.

The review code calls `enqueue_event(session, event)` inside the transaction that records a decision or a
reversal (a transactional outbox): the event rows and one delivery per active endpoint commit together with
the change, or not at all. `deliver_pending` (run by `posbon webhook deliver`, cron or a loop) sends what is
due, persists every attempt, and retries failures with exponential backoff until MAX_ATTEMPTS; a failed
delivery can be retried by hand (`retry_delivery`).

Signing: `X-Posbon-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, over the body alone. Replay
protection is inside the signed body: every attempt carries a fresh top-level `"sent_at"` (unix seconds),
echoed in `X-Posbon-Timestamp`; the event's `"id"` and the `Idempotency-Key` header are the same on every
attempt. Receivers check it with `posbon.platform.verify.verify_signature` (stdlib only, made to be
copied). The body is not stored: an attempt rebuilds it from the event row and signs it anew. Secrets are
read from the environment variable an endpoint names at send time; posbon stores and logs only the
variable's name.
This module only imports the store, so the review code can import it without a cycle.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from posbon.platform.verify import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.platform_models import (
    NoticeRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from posbon.store.review_models import DecisionRow, StatementOfReasonsRow

log = logging.getLogger("posbon.platform.webhooks")

MAX_ATTEMPTS = 10
BACKOFF_BASE_S = 30.0  # first retry after 30 s, then 60, 120, ... (doubling)
BACKOFF_CAP_S = 6 * 3600.0
LEASE_S = 120.0  # a delivery being sent is not picked up by a concurrent run for this long
TIMEOUT_S = 10.0
EVENT_TYPES = (
    "decision",
    "decision.reversed",
    "statement_of_reasons",
    "notice.decided",
    "threat_to_life",
    "misuse.step",  # a warning or suspension under DSA Art. 23 (pseudonymous subject, decision ids)
    "misuse.lifted",
)


class WebhookError(Exception):
    """A webhook request a user made that cannot be done (one line)."""


@dataclass(frozen=True)
class WebhookEvent:
    """An event as it goes into the outbox: `type` (one of EVENT_TYPES) and its JSON-able `data`."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionRecorded:
    """Raised by the review code when a decision was recorded (pending ones send nothing)."""

    decision_id: int
    statement_id: int | None = None


@dataclass(frozen=True)
class DecisionReversed:
    """Raised by the review code when an appeal reversed a decision."""

    decision_id: int
    appeal_id: int


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    moment = _aware(value)
    return moment.isoformat() if moment is not None else None


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: 30, 60, 120, ... capped at six hours.

    No jitter: one posbon instance delivers to a handful of endpoints, so there is no herd to spread."""
    return float(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


# ---- the outbox -------------------------------------------------------------------------------------------


def enqueue_event(session: Session, event: WebhookEvent | DecisionRecorded | DecisionReversed) -> list[int]:
    """Write `event` to the outbox in the caller's transaction; returns the outbox event ids.

    A DecisionRecorded of a final decision becomes a `decision` event, a `statement_of_reasons` event when
    it has one, and a `notice.decided` event for each notice on the item (whose stored outcome is updated);
    a DecisionReversed becomes `decision.reversed` (and notice updates).
    """
    if isinstance(event, DecisionRecorded):
        events = _decision_events(session, event)
    elif isinstance(event, DecisionReversed):
        events = _reversal_events(session, event)
    else:
        events = [event]
    return [_outbox(session, e) for e in events]


def _outbox(session: Session, event: WebhookEvent) -> int:
    if event.type not in EVENT_TYPES:
        raise WebhookError(f"unknown webhook event type {event.type!r}")
    now = _now()
    row = WebhookEventRow(
        key=uuid.uuid4().hex,
        type=event.type,
        payload=json.loads(json.dumps(event.data, default=str)),
        created_at=now,
    )
    session.add(row)
    session.flush()
    endpoints = session.scalars(select(WebhookEndpointRow.id).where(WebhookEndpointRow.active)).all()
    for endpoint_id in endpoints:
        session.add(
            WebhookDeliveryRow(
                event_id=row.id, endpoint_id=endpoint_id, status="pending", attempts=0, next_attempt_at=now
            )
        )
    session.flush()
    return row.id


def _item_ref(item: ItemRow | None, item_id: str | None) -> dict[str, Any]:
    if item is None:
        return {"item_id": item_id, "source": None, "external_id": None, "url": None}
    return {"item_id": item.item_id, "source": item.source, "external_id": item.external_id, "url": item.url}


def _decision_data(decision: DecisionRow, item: ItemRow | None, statement_id: int | None) -> dict[str, Any]:
    return {
        "decision_id": decision.id,
        "item": _item_ref(item, decision.item_id),
        "action": decision.action,
        "status": decision.status,
        "category": decision.category,
        "policy": {"id": decision.policy_id, "version": decision.policy_version},
        "rule": None,
        "statement_of_reasons_id": statement_id,
        "reviewer_note": decision.reason,
        "automated": decision.automated,
        "jurisdiction": decision.jurisdiction,
        "territorial_scope": list(decision.territorial_scope or []),
        "removal_order_id": decision.removal_order_id,
        "decided_at": _iso(decision.decided_at),
    }


def outcome_text(decision: DecisionRow, *, reversed_: bool = False) -> str:
    """What a notifier is told about the decision on the content they reported."""
    policy = f"{decision.policy_id} v{decision.policy_version}"
    if reversed_:
        return f"The decision ({decision.action}) was reversed on appeal; the content is restored."
    if decision.action == "no_action":
        return f"Reviewed under policy {policy}: no action was taken."
    return f"Reviewed under policy {policy}: action taken: {decision.action}."


def _decision_events(session: Session, event: DecisionRecorded) -> list[WebhookEvent]:
    decision = session.get(DecisionRow, event.decision_id)
    if decision is None or decision.status != "final" or decision.action == "escalate":
        return []
    item = session.get(ItemRow, decision.item_id) if decision.item_id else None
    events = [WebhookEvent("decision", _decision_data(decision, item, event.statement_id))]
    if event.statement_id is not None:
        statement = session.get(StatementOfReasonsRow, event.statement_id)
        if statement is not None:
            events.append(
                WebhookEvent(
                    "statement_of_reasons",
                    {
                        "statement_of_reasons_id": statement.id,
                        "decision_id": decision.id,
                        "item": _item_ref(item, decision.item_id),
                        "statement": statement.payload,
                    },
                )
            )
    if decision.item_id is not None:
        notices = session.scalars(
            select(NoticeRow).where(
                NoticeRow.item_id == decision.item_id, NoticeRow.status.in_(("open", "queued"))
            )
        ).all()
        for notice in notices:
            notice.status, notice.decision_id = "decided", decision.id
            notice.decided_at, notice.outcome = _now(), outcome_text(decision)
            events.append(_notice_event(notice, decision, "final"))
    return events


def _notice_event(notice: NoticeRow, decision: DecisionRow, decision_status: str) -> WebhookEvent:
    # never the notifier's name or e-mail: the platform knows who sent the notice by its id
    return WebhookEvent(
        "notice.decided",
        {
            "notice_id": notice.id,
            "item_id": notice.item_id,
            "decision_id": decision.id,
            "action": decision.action,
            "decision_status": decision_status,
            "outcome": notice.outcome,
            "decided_at": _iso(notice.decided_at),
        },
    )


def _reversal_events(session: Session, event: DecisionReversed) -> list[WebhookEvent]:
    decision = session.get(DecisionRow, event.decision_id)
    if decision is None:
        return []
    item = session.get(ItemRow, decision.item_id) if decision.item_id else None
    data = _decision_data(decision, item, None)
    data["appeal_id"] = event.appeal_id
    data["action_undone"] = decision.action
    events = [WebhookEvent("decision.reversed", data)]
    for notice in session.scalars(select(NoticeRow).where(NoticeRow.decision_id == decision.id)).all():
        notice.outcome = outcome_text(decision, reversed_=True)
        events.append(_notice_event(notice, decision, "reversed"))
    return events


# ---- endpoints --------------------------------------------------------------------------------------------


def endpoint_label(url: str | None) -> str:
    """An endpoint URL as pages, audit records and logs show it: scheme, host(:port) and path, never a
    user:password or a query string (either may carry a token). The stored URL stays whole, it is needed
    to deliver."""
    if not url:
        return "(removed endpoint)"
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unparsable port or host: nothing of it is shown
        return "(unparsable URL)"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def add_endpoint(store: Store, url: str, secret_env: str, *, actor: str = "cli") -> WebhookEndpointRow:
    """Register an endpoint; its secret is read from the environment variable `secret_env` at send time."""
    from posbon.review import audit
    from posbon.review.session import write_session

    url = url.strip()
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"webhook URL must be http(s)://host/path, got {endpoint_label(url)!r}")
    secret_env = secret_env.strip()
    if not secret_env or not secret_env.replace("_", "").isalnum() or len(secret_env) > 100:
        raise WebhookError(f"--secret-env must name an environment variable, got {secret_env!r}")
    with write_session(store) as s:
        row = WebhookEndpointRow(url=url, secret_env=secret_env, active=True, created_at=_now())
        s.add(row)
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="webhook.endpoint_add",
            subject=f"webhook:{row.id}",
            details={"url": endpoint_label(url), "secret_env": secret_env},
        )
    return row


def list_endpoints(store: Store) -> list[WebhookEndpointRow]:
    with store.session() as s:
        return list(s.scalars(select(WebhookEndpointRow).order_by(WebhookEndpointRow.id)).all())


def list_deliveries(store: Store, *, status: str | None = None, limit: int = 200) -> list[WebhookDeliveryRow]:
    query = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(WebhookDeliveryRow.status == status)
    with store.session() as s:
        return list(s.scalars(query).all())


def get_delivery(store: Store, delivery_id: int) -> WebhookDeliveryRow | None:
    with store.session() as s:
        return s.get(WebhookDeliveryRow, delivery_id)


def attempts_for(store: Store, delivery_id: int) -> list[WebhookAttemptRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(WebhookAttemptRow)
                .where(WebhookAttemptRow.delivery_id == delivery_id)
                .order_by(WebhookAttemptRow.id)
            ).all()
        )


def retry_delivery(store: Store, delivery_id: int, *, actor: str = "cli") -> WebhookDeliveryRow:
    """Put a failed (or pending) delivery up for an immediate new round of attempts."""
    from posbon.review import audit
    from posbon.review.session import write_session

    with write_session(store) as s:
        row = s.get(WebhookDeliveryRow, delivery_id)
        if row is None:
            raise WebhookError(f"no webhook delivery with id {delivery_id}")
        if row.status == "delivered":
            raise WebhookError(f"webhook delivery {delivery_id} was already delivered")
        row.status, row.attempts, row.next_attempt_at = "pending", 0, _now()
        audit.append(s, actor=actor, action="webhook.retry", subject=f"delivery:{delivery_id}")
    return row


# ---- sending ----------------------------------------------------------------------------------------------


def event_body(event: WebhookEventRow, sent_at: int) -> bytes:
    """The exact bytes sent (and signed) for one attempt of an event: `id`, `type`, `created_at` and `data`
    are the same on every attempt; `sent_at` (unix seconds) is the attempt's own send time."""
    if type(sent_at) is not int:
        raise TypeError(f"sent_at must be whole unix seconds (int), got {type(sent_at).__name__}")
    envelope = {
        "id": event.key,
        "type": event.type,
        "created_at": _iso(event.created_at),
        "sent_at": sent_at,
        "data": event.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signed_request(secret: str, event: WebhookEventRow, sent_at: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt: body and signature are built together, so they always agree."""
    body = event_body(event, sent_at)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "posbon-webhooks",
        SIGNATURE_HEADER: signature_header(secret, body),
        TIMESTAMP_HEADER: str(sent_at),
        "Idempotency-Key": event.key,
        "X-Posbon-Event": event.type,
    }
    return body, headers


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    attempts: int
    url: str
    secret_env: str
    event: WebhookEventRow


def _claim(store: Store, now: datetime, limit: int) -> list[_Job]:
    from posbon.review.session import write_session

    jobs: list[_Job] = []
    with write_session(store) as s:
        rows = s.execute(
            select(WebhookDeliveryRow, WebhookEndpointRow, WebhookEventRow)
            .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
            .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
            .where(WebhookDeliveryRow.status == "pending", WebhookDeliveryRow.next_attempt_at <= now)
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        ).all()
        for delivery, endpoint, event in rows:
            delivery.next_attempt_at = now + timedelta(seconds=LEASE_S)  # leased to this run
            jobs.append(_Job(delivery.id, delivery.attempts, endpoint.url, endpoint.secret_env, event))
    return jobs


def _send(client: httpx.Client, job: _Job, clock: Callable[[], float]) -> tuple[int | None, str | None]:
    secret = os.environ.get(job.secret_env)
    if not secret:
        return None, f"environment variable {job.secret_env} is not set (the endpoint's secret)"
    body, headers = signed_request(secret, job.event, int(clock()))  # a fresh sent_at on every attempt
    try:
        response = client.post(job.url, content=body, headers=headers)
    except httpx.HTTPError as exc:  # its message may quote the URL: the label replaces it
        return None, f"{type(exc).__name__}: {str(exc).replace(job.url, endpoint_label(job.url))[:300]}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def deliver_pending(
    store: Store,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 500,
    clock: Callable[[], float] | None = None,
) -> DeliveryReport:
    """Send every delivery that is due at `now` once; persist each attempt and schedule retries.

    `now` (what is due, and the attempt's recorded time) and `clock` (each body's `sent_at`, read just
    before that request) default to the real time; tests pass both.
    """
    from posbon.review.session import write_session

    moment = _aware(now) or _now()
    stamp = clock or (lambda: moment.timestamp() if now is not None else time.time())
    report = DeliveryReport()
    jobs = _claim(store, moment, limit)
    if not jobs:
        return report
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
    try:
        for job in jobs:
            status_code, error = _send(http, job, stamp)
            with write_session(store) as s:
                delivery = s.get(WebhookDeliveryRow, job.delivery_id)
                if delivery is None:
                    continue
                delivery.attempts = job.attempts + 1
                if error is None:
                    delivery.status, delivery.delivered_at = "delivered", moment
                    delivery.next_attempt_at, delivery.last_error = None, None
                    report.delivered += 1
                elif delivery.attempts >= MAX_ATTEMPTS:
                    delivery.status, delivery.next_attempt_at, delivery.last_error = "failed", None, error
                    report.failed += 1
                else:
                    delivery.next_attempt_at = moment + timedelta(seconds=backoff_s(delivery.attempts))
                    delivery.last_error = error
                    report.retrying += 1
                s.add(
                    WebhookAttemptRow(
                        delivery_id=job.delivery_id,
                        at=moment,
                        status_code=status_code,
                        error=error,
                        next_attempt_at=delivery.next_attempt_at,
                    )
                )
            if error is not None:
                log.warning("webhook delivery %s to %s: %s", job.delivery_id, endpoint_label(job.url), error)
    finally:
        if own:
            http.close()
    return report

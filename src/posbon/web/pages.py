"""The server-rendered review pages. Every route names the least role it needs (Depends(Require(...)))."""

from __future__ import annotations

import dataclasses
import mimetypes
import os
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from posbon.platform import webhooks
from posbon.platform.minimal import CALLBACK_ENV, FetchedContent, fetch_content
from posbon.review.access import access_report, record_access
from posbon.review.queue import MAX_QUEUE_NAME
from posbon.web.app import WebState, render
from posbon.web.auth import ROLES, Admin, Reviewer, Viewer
from posbon.web.services import MAX_ROW_ID, ReviewError
from posbon.web.views import (
    card_id_for,
    delivery_views,
    evidence_cards,
    highlight,
    item_view,
    media_file,
)

RowId = Annotated[int, Path(ge=0, le=MAX_ROW_ID)]

router = APIRouter(include_in_schema=False)

# Decision buttons and their keyboard shortcuts (static/app.js presses the button whose data-key was typed).
ACTION_KEYS = (
    ("remove", "r", "Remove"),
    ("geo_block", "g", "Geo-block"),
    ("restrict", "t", "Restrict"),
    ("label", "l", "Label"),
    ("no_action", "n", "No action"),
    ("escalate", "e", "Escalate"),
)
PAGE_SIZE = 50
# Canned reasons, so a keyboard decision always carries one; a typed reason takes their place.
REASON_PRESETS = (
    "Matches known terrorist content in a bank",
    "Recruitment or incitement indicators in the text or media",
    "Not terrorist content: news, research, counter-speech or unrelated",
    "Unclear: needs a specialist or more context",
)


def _web(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def _refused(exc: ReviewError) -> HTTPException:
    return HTTPException(status_code=409, detail=str(exc))


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    principal: Viewer,
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(PAGE_SIZE, ge=1, le=500),
    jurisdiction: str | None = Query(None, max_length=20),
    queue: str | None = Query(None, max_length=MAX_QUEUE_NAME),
) -> Response:
    """The queue, or one named queue (`?queue=NAME`: items a live routing rule routed there; "default":
    items no rule routed), in the same order."""
    services = _web(request).services
    entries = services.queue(
        limit=limit,
        offset=offset,
        jurisdiction=jurisdiction or None,
        reviewer=principal.name,
        queue_name=queue or None,
    )
    return render(
        request,
        "queue.html",
        {
            "entries": entries,
            "offset": offset,
            "limit": limit,
            "jurisdiction": jurisdiction or "",
            "queue_name": queue or "",
            "queues": services.known_queues(),
        },
    )


def _in_queue(queue_name: str | None) -> str:
    """The query-string tail that keeps item navigation inside one named queue."""
    return f"&queue={quote(queue_name, safe='')}" if queue_name else ""


def _neighbour(
    request: Request, who: str, item_id: str, pos: int | None, step: int, queue_name: str | None = None
) -> str | None:
    """The link to the queued item `step` places from position `pos` (j/k on the item page), within the
    named queue the reviewer came from, if any."""
    services = _web(request).services
    tail = _in_queue(queue_name)
    if pos is None:
        if step < 0:
            return None
        found = [
            e for e in services.queue(limit=2, reviewer=who, queue_name=queue_name) if e.item_id != item_id
        ]
        return f"/items/{found[0].item_id}?pos=0{tail}" if found else None
    target = pos + step
    if target < 0:
        return None
    entries = services.queue(limit=1, offset=target, reviewer=who, queue_name=queue_name)
    if entries and entries[0].item_id == item_id:  # this item is no longer where it was: look one further
        target += step
        entries = (
            services.queue(limit=1, offset=target, reviewer=who, queue_name=queue_name) if target >= 0 else []
        )
    return f"/items/{entries[0].item_id}?pos={target}{tail}" if entries else None


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(
    request: Request,
    principal: Viewer,
    item_id: str,
    pos: int | None = Query(None, ge=0, le=10_000_000),
    queue: str | None = Query(None, max_length=MAX_QUEUE_NAME),
) -> Response:
    services = _web(request).services
    queue = queue or None
    item = services.item(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id!r}")
    record_access(_web(request).store, actor=principal.name, item_id=item_id, via="page")
    entry = services.queue_entry(item_id)
    policy = services.policy(entry.jurisdiction if entry is not None else None)
    categories = list(policy.categories)
    if entry is not None and entry.category in categories:
        categories.remove(entry.category)
        categories.insert(0, entry.category)
    appeals = services.appeals_for(item_id)
    actions = [
        {"value": value, "key": key, "label": label}
        for value, key, label in ACTION_KEYS
        if value in policy.actions
    ]
    remote, remote_segments = _remote_content(request, item)
    return render(
        request,
        "item.html",
        {
            "item": item,
            "view": item_view(item),
            "remote": remote,
            "remote_segments": remote_segments,
            "in_queue": entry is not None,
            "open_appeal": any(a.status == "open" for a in appeals),
            "reason_presets": REASON_PRESETS,
            "queue_reason": entry.reason if entry is not None else "",
            "pos": pos,
            "queue_name": queue or "",
            "next_url": _neighbour(request, principal.name, item_id, pos, +1, queue),
            "prev_url": _neighbour(request, principal.name, item_id, pos, -1, queue),
            "actions": actions,
            "categories": categories,
            "decisions": services.decisions_for(item_id),
            "appeals": appeals,
            "orders": services.orders_for(item_id),
            "cards": evidence_cards(item),
            "card_id_for": card_id_for,
        },
    )


def _remote_content(request: Request, item: Any) -> tuple[FetchedContent | None, list[Any]]:
    """In minimal storage mode the post is fetched from the platform for this page only, never stored."""
    if item.text or (
        _web(request).settings.store_content != "minimal" and not os.environ.get(CALLBACK_ENV, "").strip()
    ):
        return None, []
    fetched = fetch_content(str(item.source), str(item.external_id))
    evidence = [ev for ev in (item.evidence or []) if isinstance(ev, dict)]
    return fetched, (highlight(fetched.text, evidence) if fetched.error is None else [])


@router.get("/items/{item_id}/media/{index}")
def item_media(
    request: Request,
    principal: Viewer,
    item_id: str,
    index: int,
) -> Response:
    """A media file of an item: only files the item names, and only inside their own folder."""
    item = _web(request).services.item(item_id)
    path = media_file(item, index) if item is not None else None
    if path is None:
        raise HTTPException(status_code=404, detail="no such media file for this item")
    record_access(_web(request).store, actor=principal.name, item_id=item_id, via="media", media_index=index)
    kind = str(item.media[index].get("kind", "file")) if item is not None else "file"
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    inline = kind in ("image", "video") and media_type.startswith(("image/", "video/"))
    if not inline:
        media_type = "application/octet-stream"
    response = FileResponse(
        path, media_type=media_type, content_disposition_type="inline" if inline else "attachment"
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@router.post("/items/{item_id}/decide")
def decide_form(
    request: Request,
    principal: Reviewer,
    item_id: str,
    action: str = Form(..., max_length=20),
    reason: str = Form("", max_length=5000),
    reason_preset: str = Form("", max_length=200),
    category: str = Form("", max_length=60),
    pos: str = Form("", max_length=10),
    queue: str = Form("", max_length=MAX_QUEUE_NAME),
) -> Response:
    services = _web(request).services
    if services.item(item_id) is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id!r}")
    reason = reason.strip() or (reason_preset if reason_preset in REASON_PRESETS else "")
    try:
        services.decide(item_id, action, reviewer=principal.name, reason=reason, category=category or None)
    except ReviewError as exc:
        raise _refused(exc) from exc
    # On to the item now at the same queue position (the decided one has left the queue).
    if pos.isdigit():
        following = services.queue(
            limit=1, offset=int(pos), reviewer=principal.name, queue_name=queue or None
        )
        tail = _in_queue(queue)
        if following:
            return RedirectResponse(
                f"/items/{following[0].item_id}?pos={pos}{tail}&msg=decided", status_code=303
            )
        return RedirectResponse(f"/queue?msg=decided{tail}", status_code=303)
    return RedirectResponse(f"/items/{item_id}?msg=decided", status_code=303)


@router.post("/items/{item_id}/orders")
def order_form(
    request: Request,
    principal: Reviewer,
    item_id: str,
    authority: str = Form(..., min_length=1, max_length=300),
    reference: str = Form(..., min_length=1, max_length=300),
) -> Response:
    services = _web(request).services
    if services.item(item_id) is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id!r}")
    try:
        services.record_order(
            item_id,
            authority=authority.strip(),
            reference=reference.strip(),
            received_at=None,
            actor=principal.name,
        )
    except ReviewError as exc:
        raise _refused(exc) from exc
    return RedirectResponse(f"/items/{item_id}?msg=order", status_code=303)


@router.post("/orders/{order_id}/action")
def order_action_form(
    request: Request,
    principal: Reviewer,
    order_id: RowId,
    action: str = Form("remove", pattern="^(remove|geo_block)$"),
) -> Response:
    """Act on a removal order (remove or geo-block): recorded as a decision tied to the order."""
    services = _web(request).services
    try:
        order = services.action_order(order_id, reviewer=principal.name, action=action, reason=None)
    except ReviewError as exc:
        raise _refused(exc) from exc
    target = f"/items/{order.item_id}" if order.item_id else "/orders"
    return RedirectResponse(f"{target}?msg=actioned", status_code=303)


@router.post("/decisions/{decision_id}/appeals")
def appeal_form(
    request: Request,
    principal: Reviewer,
    decision_id: RowId,
    complaint: str = Form(..., min_length=1, max_length=5000),
) -> Response:
    services = _web(request).services
    decision = services.decision(decision_id)
    if decision is None:
        raise HTTPException(status_code=404, detail=f"no decision {decision_id}")
    try:
        services.appeal(decision_id, complaint.strip(), actor=principal.name)
    except ReviewError as exc:
        raise _refused(exc) from exc
    target = f"/items/{decision.item_id}" if decision.item_id else "/appeals"
    return RedirectResponse(f"{target}?msg=appealed", status_code=303)


@router.post("/appeals/{appeal_id}/resolve")
def resolve_form(
    request: Request,
    principal: Reviewer,
    appeal_id: RowId,
    outcome: str = Form(..., pattern="^(upheld|reversed)$"),
    reason: str = Form(..., min_length=1, max_length=5000),
) -> Response:
    services = _web(request).services
    try:
        result = services.resolve_appeal(
            appeal_id, reviewer=principal.name, upheld=outcome == "upheld", reason=reason.strip()
        )
    except ReviewError as exc:
        raise _refused(exc) from exc
    decision = services.decision(int(getattr(result, "decision_id", 0) or 0))
    target = f"/items/{decision.item_id}" if decision is not None and decision.item_id else "/appeals"
    return RedirectResponse(f"{target}?msg=resolved", status_code=303)


@router.get("/orders", response_class=HTMLResponse)
def orders_page(
    request: Request,
    _p: Viewer,
    overdue: int = Query(0, ge=0, le=1),
) -> Response:
    orders = _web(request).services.orders(overdue_only=bool(overdue))
    return render(request, "orders.html", {"orders": orders, "overdue_only": bool(overdue)})


@router.get("/appeals", response_class=HTMLResponse)
def appeals_page(
    request: Request,
    _p: Viewer,
) -> Response:
    return render(request, "appeals.html", {"appeals": _web(request).services.open_appeals()})


def _day(value: str | None, field: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"{field}: expected a date like 2026-01-31") from exc


def _period(start: str | None, end: str | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    first = _day(start, "start", today.replace(month=1, day=1))
    last = _day(end, "end", today)
    if last < first:
        raise HTTPException(status_code=400, detail="end: the period ends before it starts")
    return first, last


@router.get("/transparency", response_class=HTMLResponse)
def transparency_page(
    request: Request,
    _p: Viewer,
    start: str | None = Query(None, max_length=32),
    end: str | None = Query(None, max_length=32),
) -> Response:
    first, last = _period(start, end)
    report = _web(request).services.transparency(first, last)
    return render(
        request,
        "transparency.html",
        {"start": first.isoformat(), "end": last.isoformat(), "report_rows": report_rows(report)},
    )


@router.get("/transparency/report.html", response_class=HTMLResponse)
def transparency_document(
    request: Request,
    _p: Viewer,
    start: str | None = Query(None, max_length=32),
    end: str | None = Query(None, max_length=32),
) -> Response:
    """The printable report exactly as posbon.report.transparency renders it (inline CSS and SVG)."""
    first, last = _period(start, end)
    html = _web(request).services.transparency_html(first, last)
    # Its own policy: the page has inline styles and SVG but no script at all, and loads nothing.
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


def report_rows(report: Any) -> list[tuple[str, Any]]:
    """The report's figures as (name, value) rows; lists of (label, count) pairs become one row each."""
    rows: list[tuple[str, Any]] = []
    is_record = dataclasses.is_dataclass(report) and not isinstance(report, type)
    data = dataclasses.asdict(report) if is_record else dict(report or {})
    for key, value in data.items():
        name = key.replace("_", " ")
        if isinstance(value, list):
            rows.extend((f"{name}: {pair[0]}", pair[1]) for pair in value if isinstance(pair, list | tuple))
        else:
            rows.append((name, value if value is not None else "n/a"))
    return rows


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    _p: Admin,
) -> Response:
    services = _web(request).services
    return render(
        request,
        "users.html",
        {"users": services.users(), "keys": services.api_keys(), "roles": ROLES, "new_key": ""},
    )


@router.post("/admin/users")
def add_user(
    request: Request,
    principal: Admin,
    username: str = Form(..., min_length=1, max_length=100),
    password: str = Form(..., min_length=1, max_length=1000),
    role: str = Form(..., max_length=20),
) -> Response:
    try:
        _web(request).services.create_user(username, password, role, actor=principal.name)
    except ReviewError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return RedirectResponse("/admin/users?msg=user", status_code=303)


@router.post("/admin/api-keys", response_class=HTMLResponse)
def add_api_key(
    request: Request,
    principal: Admin,
    name: str = Form(..., min_length=1, max_length=100),
    role: str = Form(..., max_length=20),
) -> Response:
    services = _web(request).services
    try:
        token = services.create_api_key(name, role, actor=principal.name)
    except ReviewError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    # Shown once, in this response only (never in a URL or a log).
    return render(
        request,
        "users.html",
        {"users": services.users(), "keys": services.api_keys(), "roles": ROLES, "new_key": token},
    )


@router.get("/admin/policies", response_class=HTMLResponse)
def policies_page(
    request: Request,
    _p: Admin,
) -> Response:
    return render(request, "policies.html", {"policies": _web(request).services.policies()})


@router.get("/admin/access", response_class=HTMLResponse)
def access_page(
    request: Request,
    _p: Admin,
    actor: str | None = Query(None, max_length=100),
    since: str | None = Query(None, max_length=10),
    limit: int = Query(500, ge=1, le=10_000),
) -> Response:
    """Who opened which item or media file, and when (from the audit log); admins only."""
    start = None
    if since:
        day = _day(since, "since", date.today())
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    entries = access_report(_web(request).store, actor=actor or None, since=start, limit=limit)
    return render(request, "access.html", {"entries": entries, "actor": actor or "", "since": since or ""})


@router.get("/admin/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request,
    _p: Admin,
    status: str | None = Query(None, pattern="^(pending|delivered|failed)$"),
) -> Response:
    """Webhook deliveries, newest first, with a Retry button for each failed one; admins only."""
    store = _web(request).store
    rows = delivery_views(webhooks.list_deliveries(store, status=status), webhooks.list_endpoints(store))
    return render(request, "webhooks.html", {"deliveries": rows, "status": status or ""})


@router.post("/admin/webhooks/{delivery_id}/retry")
def retry_webhook(
    request: Request,
    principal: Admin,
    delivery_id: RowId,
) -> Response:
    """Put a failed delivery up for a new round of attempts (audited as webhook.retry)."""
    store = _web(request).store
    if webhooks.get_delivery(store, delivery_id) is None:
        raise HTTPException(status_code=404, detail=f"no webhook delivery {delivery_id}")
    try:
        webhooks.retry_delivery(store, delivery_id, actor=principal.name)
    except webhooks.WebhookError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return RedirectResponse(f"/admin/webhooks#delivery-{delivery_id}", status_code=303)

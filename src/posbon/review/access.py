"""Access audit: who opened which item, its evidence or its media, and when.

Each open is one record in the hash-chained audit log (posbon.review.audit): the actor, the action
(`access.item`, `access.media`) and the item id, plus the route kind and, for media, the media index. No
request body, query string, text or IP address goes in. Reports read the log back (`access_report`), for
admins only (`posbon audit access`, `/admin/access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from posbon.review import audit
from posbon.review.session import aware, write_session
from posbon.store import Store
from posbon.store.review_models import AuditRecordRow

ACCESS_ITEM = "access.item"
ACCESS_MEDIA = "access.media"
ACCESS_ACTIONS = (ACCESS_ITEM, ACCESS_MEDIA)
MAX_REPORT = 10_000


def record_access(
    store: Store, *, actor: str, item_id: str, via: str = "web", media_index: int | None = None
) -> None:
    """Append one access record: `access.media` when `media_index` is given, else `access.item`."""
    details: dict[str, object] = {"via": via[:20]}
    if media_index is not None:
        details["media_index"] = int(media_index)
    with write_session(store) as s:
        audit.append(
            s,
            actor=actor[:100],
            action=ACCESS_MEDIA if media_index is not None else ACCESS_ITEM,
            subject=f"item:{item_id[:64]}",
            details=details,
        )


@dataclass(frozen=True)
class AccessEntry:
    record_id: int
    at: datetime
    actor: str
    action: str
    item_id: str
    via: str
    media_index: int | None


def access_report(
    store: Store,
    *,
    actor: str | None = None,
    since: datetime | None = None,
    item_id: str | None = None,
    limit: int = 1000,
) -> list[AccessEntry]:
    """Access records, newest first; filtered by actor, time and item."""
    query = (
        select(AuditRecordRow)
        .where(AuditRecordRow.action.in_(ACCESS_ACTIONS))
        .order_by(AuditRecordRow.id.desc())
        .limit(max(1, min(limit, MAX_REPORT)))
    )
    if actor is not None:
        query = query.where(AuditRecordRow.actor == actor)
    if since is not None:
        query = query.where(AuditRecordRow.at >= (aware(since) or since))
    if item_id is not None:
        query = query.where(AuditRecordRow.subject == f"item:{item_id}")
    with store.session() as s:
        rows = list(s.scalars(query).all())
    found: list[AccessEntry] = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else {}
        index = details.get("media_index")
        found.append(
            AccessEntry(
                record_id=row.id,
                at=aware(row.at) or row.at,
                actor=row.actor,
                action=row.action,
                item_id=row.subject.removeprefix("item:"),
                via=str(details.get("via", "")),
                media_index=index if isinstance(index, int) else None,
            )
        )
    return found

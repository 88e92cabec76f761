"""The audit log: append-only and hash-chained, so that editing, deleting or re-ordering records behind
posbon's back shows.

Each record's hash is sha256(prev_hash + canonical JSON of [id, at, actor, action, subject, details]).
A one-row chain head (audit_head) holds the newest id and hash; appending locks it in the caller's
transaction, so two writers can never chain onto the same record. Written here because the chain must live
in the same transaction as the change it records, which no logging library offers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from posbon.store import Store
from posbon.store.review_models import AuditHeadRow, AuditRecordRow

GENESIS = "0" * 64


def _at_text(at: datetime) -> str:
    """UTC, microseconds, no offset: the same text whether the database kept the zone (PostgreSQL) or not."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def record_hash(
    prev_hash: str, record_id: int, at: datetime, actor: str, action: str, subject: str, details: Any
) -> str:
    canonical = json.dumps(
        [record_id, _at_text(at), actor, action, subject, details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def append(
    session: Session, *, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
) -> AuditRecordRow:
    """Add one record to the chain inside the caller's transaction."""
    details = json.loads(json.dumps(details or {}, default=str))  # what the JSON column will give back
    head = session.scalar(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update())
    if head is None:
        # The first append ever: two writers may both get here (FOR UPDATE locks no row that is missing), so
        # the head is created with ON CONFLICT DO NOTHING and then locked; the loser waits for the winner.
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            insert(AuditHeadRow).values(id=1, last_id=0, last_hash=GENESIS).on_conflict_do_nothing()
        )
        head = session.scalar(
            select(AuditHeadRow)
            .where(AuditHeadRow.id == 1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert head is not None  # just inserted (or by the other writer, then committed)
    at = datetime.now(UTC)
    record_id = head.last_id + 1
    digest = record_hash(head.last_hash, record_id, at, actor, action, subject, details)
    record = AuditRecordRow(
        id=record_id,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=details,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(record)
    head.last_id = record_id
    head.last_hash = digest
    session.flush()
    return record


@dataclass(frozen=True)
class AuditBreak:
    record_id: int
    problem: str

    def __str__(self) -> str:
        return f"record {self.record_id}: {self.problem}"


def verify(store: Store) -> tuple[int, list[AuditBreak]]:
    """Walk the chain: (records checked, breaks). An intact log has no breaks."""
    breaks: list[AuditBreak] = []
    expected_prev = GENESIS
    expected_id = 1
    checked = 0
    with store.session() as s:
        head = s.get(AuditHeadRow, 1)
        rows = s.execute(
            select(
                AuditRecordRow.id,
                AuditRecordRow.at,
                AuditRecordRow.actor,
                AuditRecordRow.action,
                AuditRecordRow.subject,
                AuditRecordRow.details,
                AuditRecordRow.prev_hash,
                AuditRecordRow.hash,
            ).order_by(AuditRecordRow.id)
        )
        last_id, last_hash = 0, GENESIS
        for rid, at, actor, action, subject, details, prev_hash, stored_hash in rows:
            checked += 1
            if rid != expected_id:
                gap = f"{expected_id}" if rid == expected_id + 1 else f"{expected_id}-{rid - 1}"
                breaks.append(AuditBreak(rid, f"record(s) {gap} before it are missing (deleted)"))
            elif prev_hash != expected_prev:
                breaks.append(
                    AuditBreak(
                        rid, "its prev_hash is not the previous record's hash (re-ordered or replaced)"
                    )
                )
            if record_hash(prev_hash, rid, at, actor, action, subject, details) != stored_hash:
                breaks.append(AuditBreak(rid, "its content does not match its hash (edited)"))
            expected_prev, expected_id = stored_hash, rid + 1
            last_id, last_hash = rid, stored_hash
    if head is None:
        if checked:
            breaks.append(AuditBreak(last_id, "the chain head is missing (deleted)"))
    elif head.last_id != last_id or head.last_hash != last_hash:
        if head.last_id > last_id:
            breaks.append(
                AuditBreak(
                    head.last_id, f"the newest record(s) {last_id + 1}-{head.last_id} are missing (deleted)"
                )
            )
        else:
            breaks.append(AuditBreak(last_id, "the chain head does not point at the newest record (edited)"))
    return checked, breaks


def records(store: Store, *, limit: int = 100, action: str | None = None) -> list[AuditRecordRow]:
    """The newest records first (for the web UI's audit page)."""
    query = select(AuditRecordRow).order_by(AuditRecordRow.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditRecordRow.action == action)
    with store.session() as s:
        return list(s.scalars(query).all())

"""A durable job queue in posbon's own database: lease, heartbeat, redeliver.

Why a table and not a broker: posbon runs with zero set-up on SQLite, and a worker must survive being
killed. A job is leased to one worker until `lease_expires_at`; the worker renews the lease with heartbeats
while it works. A worker that dies (SIGKILL, power loss) stops renewing, the lease expires, and any other
worker claims the job again (a redelivery; `attempts` counts the claims). Results are stored with an
idempotent upsert keyed by item id, so a job done twice is stored once.

Claiming is one short write transaction: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` (workers never
wait for each other's rows), on SQLite inside `BEGIN IMMEDIATE` (the write lock is taken before the read,
so two workers can never claim the same row). Written by hand because procrastinate is PostgreSQL-only and
Celery/Dramatiq need a broker: see docs/roles.md for what was measured with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from posbon.domain import Item, MediaKind, MediaRef
from posbon.review.session import aware, now_utc, write_session
from posbon.store import Store
from posbon.store.queue_models import JobRow

QUEUED, LEASED, DONE, FAILED = "queued", "leased", "done", "failed"
STATUSES = (QUEUED, LEASED, DONE, FAILED)
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 5


class PayloadError(ValueError):
    """A job whose payload is not a valid item (one line: which field)."""


def item_payload(item: Item) -> dict[str, Any]:
    """An Item as JSON: everything a worker needs to assess it (the author is already pseudonymous)."""
    return {
        "source": item.source,
        "external_id": item.external_id,
        "text": item.text,
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "author": item.author,
        "url": item.url,
        "media": [
            {"reference": m.reference, "path": str(m.path) if m.path else None, "kind": str(m.kind)}
            for m in item.media
        ],
        "origin": item.origin,
    }


def item_from_payload(payload: dict[str, Any]) -> Item:
    """The Item a payload holds; PayloadError names the field that is wrong."""
    try:
        source, external_id, text = payload["source"], payload["external_id"], payload["text"]
    except (KeyError, TypeError) as exc:
        raise PayloadError(f"payload lacks field {exc}") from exc
    for name, value in (("source", source), ("external_id", external_id), ("text", text)):
        if not isinstance(value, str):
            raise PayloadError(f"payload field {name!r} must be a string")
    created_raw = payload.get("created_at")
    try:
        created = datetime.fromisoformat(created_raw) if created_raw else None
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"payload field 'created_at' is not an ISO time: {created_raw!r}") from exc
    media: list[MediaRef] = []
    for n, m in enumerate(payload.get("media") or []):
        try:
            media.append(
                MediaRef(
                    str(m["reference"]), Path(m["path"]) if m.get("path") else None, MediaKind(m["kind"])
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"payload field 'media[{n}]' is not a media reference: {exc}") from exc
    return Item(
        source=source,
        external_id=external_id,
        text=text,
        created_at=created,
        author=payload.get("author"),
        url=payload.get("url"),
        media=media,
        origin=str(payload.get("origin") or ""),
    )


@dataclass(frozen=True)
class Job:
    """A claimed job: what the worker holds until it reports done or failed."""

    job_id: int
    item_id: str
    payload: dict[str, Any]
    attempts: int
    owner: str


@dataclass(frozen=True)
class EnqueueResult:
    enqueued: int = 0  # new jobs, and failed or (with again=True) done jobs queued anew
    already: int = 0  # jobs already queued, leased or done: not queued twice


class JobQueue:
    """The `jobs` table of a Store."""

    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    def enqueue(self, items: Iterable[Item], *, again: bool = False) -> EnqueueResult:
        """One job per item id, in one transaction. A job already queued, leased or done is left alone
        (unless `again`: then a done job is queued anew, e.g. after banks changed); a failed one is
        queued anew with fresh attempts."""
        enqueued = already = 0
        with write_session(self.store) as s:
            for item in items:
                payload = item_payload(item)
                row = s.scalar(select(JobRow).where(JobRow.item_id == item.item_id))
                if row is None:
                    s.add(JobRow(item_id=item.item_id, payload=payload, status=QUEUED, attempts=0))
                    s.flush()  # the same item twice in one call finds the first
                    enqueued += 1
                elif row.status == FAILED or (again and row.status == DONE):
                    row.payload, row.status, row.attempts = payload, QUEUED, 0
                    row.lease_owner = row.lease_expires_at = row.finished_at = None
                    enqueued += 1
                else:
                    already += 1
        return EnqueueResult(enqueued, already)

    def claim(self, owner: str) -> Job | None:
        """Lease the oldest claimable job (queued, or leased with an expired lease) to `owner`, or None."""
        jobs = self.claim_batch(owner, 1)
        return jobs[0] if jobs else None

    def claim_batch(self, owner: str, limit: int) -> list[Job]:
        """Lease up to `limit` of the oldest claimable jobs to `owner` in one transaction (oldest first).

        A job whose lease expired after its last allowed attempt is marked failed (it probably kills
        workers) and not returned. One transaction for many jobs: a worker's commits, not its work, were
        what limited it (three commits per item).
        """
        while True:
            now = now_utc()
            claimable = or_(
                JobRow.status == QUEUED,
                and_(JobRow.status == LEASED, JobRow.lease_expires_at < now),
            )
            query = select(JobRow).where(claimable).order_by(JobRow.id).limit(limit)
            if self.store.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            jobs: list[Job] = []
            gave_up = 0
            with write_session(self.store) as s:
                for row in s.scalars(query).all():
                    if row.status == LEASED and row.attempts >= self.max_attempts:
                        row.status, row.finished_at = FAILED, now
                        row.last_error = (
                            f"lease of {row.lease_owner} expired on attempt {row.attempts} of "
                            f"{self.max_attempts}: the worker died or hung on this item"
                        )
                        row.lease_owner = row.lease_expires_at = None
                        gave_up += 1
                        continue
                    row.status, row.lease_owner = LEASED, owner
                    row.lease_expires_at, row.heartbeat_at = now + self.lease, now
                    row.attempts += 1
                    jobs.append(Job(row.id, row.item_id, dict(row.payload), row.attempts, owner))
            if jobs or not gave_up:
                return jobs

    def heartbeat(self, job: Job) -> bool:
        """Renew the lease; False when the job is no longer this worker's (its lease expired and another
        worker took it over)."""
        return job.job_id in self.heartbeat_many([job])

    def heartbeat_many(self, jobs: list[Job]) -> set[int]:
        """Renew the leases of these jobs (one owner) in one statement; the ids still this worker's."""
        if not jobs:
            return set()
        now = now_utc()
        ids = [job.job_id for job in jobs]
        with self.store.session() as s:
            mine = s.scalars(
                update(JobRow)
                .where(JobRow.id.in_(ids), JobRow.lease_owner == jobs[0].owner, JobRow.status == LEASED)
                .values(heartbeat_at=now, lease_expires_at=now + self.lease)
                .returning(JobRow.id)
            ).all()
        return set(mine)

    def complete(self, job: Job) -> bool:
        """Mark the job done (call after its result is stored). False if another worker owns it now:
        its result is then stored by both, once (the store upserts by item id)."""
        return job.job_id in self.complete_many([job])

    def complete_many(self, jobs: list[Job]) -> set[int]:
        """Mark these jobs (one owner) done in one transaction; the ids that were still this worker's."""
        if not jobs:
            return set()
        ids = [job.job_id for job in jobs]
        with self.store.session() as s:
            mine = s.scalars(
                update(JobRow)
                .where(JobRow.id.in_(ids), JobRow.lease_owner == jobs[0].owner, JobRow.status == LEASED)
                .values(
                    status=DONE,
                    finished_at=now_utc(),
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error=None,
                )
                .returning(JobRow.id)
            ).all()
        return set(mine)

    def fail(self, job: Job, error: str, *, retry: bool = True) -> str:
        """Give the job back after an error: queued again while attempts remain, else failed. Returns the
        new status."""
        status = QUEUED if retry and job.attempts < self.max_attempts else FAILED
        with self.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job.job_id, JobRow.lease_owner == job.owner, JobRow.status == LEASED)
                .values(
                    status=status,
                    last_error=error[:2000],
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now_utc() if status == FAILED else None,
                )
            )
        return status

    def release(self, job: Job) -> None:
        """Hand an unstarted job back at once (no attempt used), e.g. when the worker is told to stop."""
        with self.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job.job_id, JobRow.lease_owner == job.owner, JobRow.status == LEASED)
                .values(status=QUEUED, lease_owner=None, lease_expires_at=None, attempts=JobRow.attempts - 1)
            )

    def counts(self) -> dict[str, int]:
        """Jobs per status (every status present, zero when none)."""
        with self.store.session() as s:
            rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all()
        found = {status: int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    def job(self, item_id: str) -> JobRow | None:
        with self.store.session() as s:
            row = s.scalar(select(JobRow).where(JobRow.item_id == item_id))
        if row is not None:
            row.lease_expires_at = aware(row.lease_expires_at)
            row.heartbeat_at = aware(row.heartbeat_at)
        return row

"""The durable job queue (posbon.roles.queue): one row per item waiting for, held by, or done by a worker.

A worker holds a job by a lease (owner + expiry) that it renews with heartbeats; a lease that expires
(the worker died) is free for any other worker to take. Migration 0006 creates the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from posbon.store.models import Base, utcnow


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # one job per item: enqueuing the same post twice does not double the work
    item_id: Mapped[str] = mapped_column(String(32), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the serialised Item (roles.queue.item_payload)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | leased | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far (a redelivery counts)
    lease_owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

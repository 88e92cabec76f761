"""Tables for review and due process (posbon.review): users, API keys, the review queue, decisions, appeals,
removal orders, statements of reasons, loaded policy versions and the hash-chained audit log.

Migration 0004 creates them. No table here holds an author, nor who liked, viewed or shared anything.
Decisions keep a small snapshot of their item (source, language, detection method, first seen) so that the
transparency report still counts them after the item itself was purged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from posbon.store.models import Base, utcnow


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))  # admin | reviewer | viewer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class QueueEntryRow(Base):
    """An item's place in the review queue. Open entries are waiting; closed ones stay so a scan never
    queues a decided item again. The order index matches `queue()`'s ORDER BY, so a page is an index walk."""

    __tablename__ = "review_queue"
    __table_args__ = (
        Index("ix_review_queue_order", "state", "urgent", "deadline_at", "priority", "queued_at"),
        Index(
            "ix_review_queue_jur_order",
            "jurisdiction",
            "state",
            "urgent",
            "deadline_at",
            "priority",
            "queued_at",
        ),
    )

    item_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    reason: Mapped[str] = mapped_column(String(20), default="new")  # new | second_review | appeal | order
    jurisdiction: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(60))
    # 0 = an open removal order waits on it (sorted first: ascending); 1 = none
    urgent: Mapped[int] = mapped_column(Integer, default=1)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # negated risk x category weight, so that ascending order puts the most severe first
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # item first seen
    excluded_reviewers: Mapped[str] = mapped_column(Text, default="")  # "|name|name|": may not take it
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DecisionRow(Base):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_item_status", "item_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(60))
    policy_id: Mapped[str] = mapped_column(String(60))
    policy_version: Mapped[int] = mapped_column(Integer)
    jurisdiction: Mapped[str] = mapped_column(String(20))
    reviewer: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    second_review_of: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(30))  # final | pending_second_review | reversed
    territorial_scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_type: Mapped[str] = mapped_column(String(40), default="SOURCE_VOLUNTARY")
    removal_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # snapshot of the item at decision time (for reports after a purge); never its author or text
    item_source: Mapped[str] = mapped_column(Text, default="")
    item_language: Mapped[str] = mapped_column(String(12), default="und")
    item_verdict: Mapped[str] = mapped_column(String(10), default="")
    detection: Mapped[str] = mapped_column(
        String(20), default="human"
    )  # bank_match|indicator|classifier|human
    item_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AppealRow(Base):
    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    complaint: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | upheld | reversed
    assigned_reviewer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolution_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class RemovalOrderRow(Base):
    __tablename__ = "removal_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="SET NULL"), nullable=True, index=True
    )
    authority: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actioned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    action: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open|actioned|not_actioned
    not_actioned_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class StatementOfReasonsRow(Base):
    __tablename__ = "statements_of_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    puid: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class PolicyVersionRow(Base):
    """Every policy version posbon was given; the newest per jurisdiction is the active one."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    jurisdiction: Mapped[str] = mapped_column(String(20), index=True)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical document
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(100), default="")


class AuditRecordRow(Base):
    """One audit record. hash = sha256(prev_hash + canonical JSON of (id, at, actor, action, subject,
    details)); rows are only ever inserted (posbon.review.audit)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain head: one row (id 1), locked by every append so records are chained one after another.
    It also lets `audit verify` notice records deleted from the end of the log."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))

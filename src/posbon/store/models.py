"""Database tables (SQLAlchemy 2). Schema changes go through Alembic migrations in store/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class BankRow(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # "block": a match is known bad content; "allow": a match suppresses block matches of the same signal
    kind: Mapped[str] = mapped_column(String(10), default="block", server_default="block")
    # this bank's own match thresholds; None -> the global ones (POSBON_PDQ_THRESHOLD, POSBON_TEXT_THRESHOLD)
    pdq_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)


class BankEntryRow(Base):
    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "value_digest", name="uq_entry_signal"),
        # ids are HMA's bank_content_id: never handed out again after a delete (migration 0010)
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[str] = mapped_column(String(20))
    # hex hash, normalised URL/domain, or (text entries) the normalised text
    value: Mapped[str] = mapped_column(Text)
    # sha256 of "signal_type:value": the uniqueness key (btree indexes cannot hold long texts)
    value_digest: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(Text, nullable=True)
    original_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # set when the entry's source withdrew it (an exchange deletion); kept for the record, never matched
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # where the entry came from: "import:FILE", "files", "exchange:tat", ...
    source: Mapped[str] = mapped_column(Text, default="", server_default="")


class ExchangeCheckpointRow(Base):
    """How far a bank's fetch from one exchange has got; replaced in the same transaction as its entries."""

    __tablename__ = "exchange_checkpoints"
    __table_args__ = (UniqueConstraint("bank_id", "exchange", name="uq_checkpoint_bank_exchange"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    exchange: Mapped[str] = mapped_column(String(40))
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScanRow(Base):
    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    inputs: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | finished | failed
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)


class ScanProblemRow(Base):
    __tablename__ = "scan_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text)


class ItemRow(Base):
    """One post. Its author is a pseudonym; no list of who liked, viewed or shared it is ever stored."""

    __tablename__ = "items"
    # item_id is derived from (source, external_id), so it alone keys an item
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    author: Mapped[str | None] = mapped_column(String(64), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    links: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(12), default="und")
    language_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[str] = mapped_column(String(10), index=True)
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    first_scan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_scan_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


from posbon.store import changelog_models as _changelog_models  # noqa: F401,E402
from posbon.store import cluster_models as _cluster_models  # noqa: F401,E402
from posbon.store import misuse_models as _misuse_models  # noqa: F401,E402
from posbon.store import platform_models as _platform_models  # noqa: F401,E402
from posbon.store import queue_models as _queue_models  # noqa: F401,E402
from posbon.store import review_models as _review_models  # noqa: F401,E402
from posbon.store import rules_models as _rules_models  # noqa: F401,E402

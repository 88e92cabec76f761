"""Tables for clusters of spreading, unbanked content (see posbon.clusters). Migration 0003 creates them.

A cluster lists its items and per-source counts, never authors: analysts see where content spreads, not who
posted it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from posbon.store.models import Base, utcnow


class ClusterRow(Base):
    __tablename__ = "clusters"

    # "c" + the first 16 hex digits of the earliest member's item_id when first formed; kept across runs
    cluster_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    source_count: Mapped[int] = mapped_column(Integer, index=True)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # source -> items
    languages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # language code -> items
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    earliest_item_id: Mapped[str] = mapped_column(String(32))
    representative_item_id: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    banked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    banked_bank: Mapped[str | None] = mapped_column(Text, nullable=True)
    banked_entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ClusterMemberRow(Base):
    __tablename__ = "cluster_members"

    # an item belongs to at most one cluster
    item_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("clusters.cluster_id", ondelete="CASCADE"), index=True
    )

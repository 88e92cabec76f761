"""Tables for enforcement and routing rules (posbon.rules): every rule version loaded, each scanned item's
rule hits (shadow and live), and the queue each routed item was given. Migration 0007 creates them.

No table here holds an author: a rule judges content, and its hits name items, never people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from posbon.store.models import Base, utcnow


class RuleVersionRow(Base):
    """One version of a rule as loaded. The newest version of a rule id is the one in force; older ones are
    kept so every hit's (rule_id, rule_version) names exactly one condition."""

    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version", name="uq_rule_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # enforcement | routing
    status: Mapped[str] = mapped_column(String(10))  # draft | shadow | live | expired
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical document
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(100), default="")
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RuleHitRow(Base):
    """A rule matched a scanned item: what it would do (`would_act`), whether it did (`acted`: live rules
    only), and if a live action was refused, why (`note`)."""

    __tablename__ = "rule_hits"
    __table_args__ = (Index("ix_rule_hits_rule", "rule_id", "rule_version", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(10))  # the rule's status when it hit: shadow | live
    would_act: Mapped[str] = mapped_column(String(120))  # "decide:remove" | "queue:NAME"
    acted: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class RuleRouteRow(Base):
    """The queue a live routing rule picked for an item (the first routing rule that matched)."""

    __tablename__ = "rule_routes"

    item_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(100), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[int] = mapped_column(Integer)
    priority_boost: Mapped[float] = mapped_column(Float, default=0.0)  # what was taken off the queue priority
    routed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

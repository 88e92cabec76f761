"""Tables for repeated misuse (DSA Art. 23; posbon.review.misuse): warnings and time-limited suspensions
of pseudonymous authors and of notifiers, with their appeal.

Migration 0008 creates them. A step names its subject by pseudonym only (an item's author pseudonym, or a
notifier's key name or e-mail digest) and lists the decision and notice ids it counted: never texts, never
an item list by author, never anyone who viewed, liked or shared anything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from posbon.store.models import Base, utcnow


class MisuseStepRow(Base):
    __tablename__ = "misuse_steps"
    __table_args__ = (Index("ix_misuse_steps_subject", "subject_kind", "subject", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))  # author | notifier
    subject: Mapped[str] = mapped_column(String(120))  # a pseudonym, never a name
    step: Mapped[str] = mapped_column(String(12))  # warning | suspension
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # suspensions
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | lifted
    decision_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    notice_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    explanation: Mapped[str] = mapped_column(Text)
    policy_id: Mapped[str] = mapped_column(String(60))
    policy_version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    # the appeal against this step (one at most): none | open | upheld | reversed
    appeal_status: Mapped[str] = mapped_column(String(10), default="none")
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeal_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolution_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

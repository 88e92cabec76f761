"""Tables for platform integration (posbon.platform): partner keys (competent authorities, internet referral
units, trusted flaggers), notices (DSA Art. 16), authority requests (removal orders and referrals),
Art. 14(5) threat-to-life notifications, and the webhook outbox with its deliveries and attempts.

Migration 0005 creates them. Notifier contact data (name, e-mail) lives only in `notices`, is never copied
into events, statements of reasons or exports, and is erased once the notice no longer needs it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from posbon.store.models import Base, utcnow


class PartnerRow(Base):
    """An outside organisation with its own key: it can only use the intake routes (never the queue)."""

    __tablename__ = "platform_partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # competent_authority | iru | trusted_flagger
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NoticeRow(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    item_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="SET NULL"), nullable=True, index=True
    )
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    explanation: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(60), nullable=True)
    csam_exemption: Mapped[bool] = mapped_column(Boolean, default=False)
    # personal data: erased (set to NULL) by purge_notice_contacts once the notice is decided and old
    notifier_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    notifier_email: Mapped[str | None] = mapped_column(Text, nullable=True)
    contacts_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    good_faith: Mapped[bool] = mapped_column(Boolean)
    submitted_by: Mapped[str] = mapped_column(String(120))  # the API key / partner that sent it
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)  # from a trusted flagger (DSA Art. 22)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open | queued | decided
    decision_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)  # what the notifier is told


class AuthorityRequestRow(Base):
    """A removal order or referral as it arrived from a partner key (the issuer comes from the key)."""

    __tablename__ = "authority_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("platform_partners.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # removal_order | referral
    item_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="SET NULL"), nullable=True
    )
    reference: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    removal_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    imminent_threat: Mapped[bool] = mapped_column(Boolean, default=False)


class ThreatNotificationRow(Base):
    """The notification to the authorities Art. 14(5) of Regulation 2021/784 asks for, prepared by posbon."""

    __tablename__ = "threat_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    item_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("items.item_id", ondelete="SET NULL"), nullable=True
    )
    decision_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    removal_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class WebhookEndpointRow(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret_env: Mapped[str] = mapped_column(String(100))  # the environment variable holding the secret
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEventRow(Base):
    """The outbox: written in the same transaction as the change it announces."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the Idempotency-Key header
    type: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WebhookAttemptRow(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

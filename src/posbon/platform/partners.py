"""Partner keys: competent authorities, internet referral units (IRUs) and trusted flaggers each get their
own token. A partner key opens only the intake routes (orders, referrals, notices and their status), never
the review queue or items; the issuing authority of an order is the key's partner, whatever the body says.
Tokens are random 32 bytes shown once; posbon keeps only their sha256 (like posbon.review.accounts)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from posbon.review import audit
from posbon.review.session import ReviewError, now_utc, write_session
from posbon.store import Store
from posbon.store.platform_models import PartnerRow

AUTHORITY_KINDS = ("competent_authority", "iru")
KINDS = (*AUTHORITY_KINDS, "trusted_flagger")
TOKEN_PREFIX = "pbp_"
ACTOR_PREFIX = "partner:"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_partner(store: Store, name: str, kind: str, *, actor: str = "cli") -> str:
    """A new partner and its token (returned once; only the hash is stored)."""
    name = name.strip()
    if not name or len(name) > 100 or "|" in name:
        raise ReviewError("a partner needs a name of 1-100 characters without '|'")
    if kind not in KINDS:
        raise ReviewError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_session(store) as s:
        if s.scalar(select(PartnerRow.id).where(PartnerRow.name == name)) is not None:
            raise ReviewError(f"a partner named {name!r} already exists")
        s.add(PartnerRow(name=name, kind=kind, key_hash=_digest(token), created_at=now_utc()))
        audit.append(
            s, actor=actor, action="partner.create", subject=f"partner:{name}", details={"kind": kind}
        )
    return token


def verify_partner_key(store: Store, token: str) -> PartnerRow | None:
    """The unrevoked partner a token belongs to, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.session() as s:
        row = s.scalar(select(PartnerRow).where(PartnerRow.key_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def list_partners(store: Store) -> list[PartnerRow]:
    with store.session() as s:
        return list(s.scalars(select(PartnerRow).order_by(PartnerRow.name)).all())


def revoke_partner(store: Store, name: str, *, actor: str = "cli") -> PartnerRow:
    with write_session(store) as s:
        row = s.scalar(select(PartnerRow).where(PartnerRow.name == name))
        if row is None:
            raise ReviewError(f"no partner named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = now_utc()
            audit.append(s, actor=actor, action="partner.revoke", subject=f"partner:{name}")
    return row

"""Which policy is in force: every version loaded is kept (policy_versions) and its loading audited."""

from __future__ import annotations

from sqlalchemy import select

from posbon.policy import Policy, PolicyError, load_profile, policy_from_document
from posbon.review import audit
from posbon.review.session import ReviewError, now_utc, write_session
from posbon.store import Store
from posbon.store.review_models import PolicyVersionRow

DEFAULT_PROFILE = "eu"


def activate_policy(store: Store, policy: Policy, *, actor: str = "cli") -> bool:
    """Make `policy` the active one for its jurisdiction. True if it was new (then audited).

    Loading the same id and version again with different content is refused: a changed rule needs a new
    version number, so every decision's (policy_id, policy_version) names exactly one set of rules.
    """
    with write_session(store) as s:
        same = s.scalars(
            select(PolicyVersionRow).where(
                PolicyVersionRow.policy_id == policy.id, PolicyVersionRow.version == policy.version
            )
        ).all()
        if any(row.digest != policy.digest for row in same):
            raise ReviewError(
                f"policy {policy.id} version {policy.version} was loaded before with other content: "
                "raise its version number"
            )
        newest = s.scalar(
            select(PolicyVersionRow)
            .where(PolicyVersionRow.jurisdiction == policy.jurisdiction)
            .order_by(PolicyVersionRow.id.desc())
            .limit(1)
        )
        if newest is not None and newest.digest == policy.digest:
            return False
        s.add(
            PolicyVersionRow(
                policy_id=policy.id,
                version=policy.version,
                jurisdiction=policy.jurisdiction,
                digest=policy.digest,
                document=policy.document,
                loaded_at=now_utc(),
                loaded_by=actor,
            )
        )
        audit.append(
            s,
            actor=actor,
            action="policy.load",
            subject=f"policy:{policy.id}",
            details={
                "version": policy.version,
                "jurisdiction": policy.jurisdiction,
                "digest": policy.digest,
                "previous_version": newest.version if newest is not None else None,
            },
        )
    return True


def active_policy(store: Store, jurisdiction: str | None = None) -> Policy:
    """The newest loaded policy (of a jurisdiction, or of any); the shipped `eu` profile when none was."""
    query = select(PolicyVersionRow).order_by(PolicyVersionRow.id.desc()).limit(1)
    if jurisdiction is not None:
        query = query.where(PolicyVersionRow.jurisdiction == jurisdiction)
    with store.session() as s:
        row = s.scalar(query)
    if row is None:
        profile = load_profile(DEFAULT_PROFILE if jurisdiction in (None, "eu") else "default")
        if jurisdiction is not None and profile.jurisdiction != jurisdiction:
            raise ReviewError(
                f"no policy loaded for jurisdiction {jurisdiction!r}: `posbon policy load FILE`"
            )
        return profile
    try:
        return policy_from_document(row.document, origin=f"stored policy {row.policy_id} v{row.version}")
    except PolicyError as exc:
        raise ReviewError(str(exc)) from exc


def policy_history(store: Store) -> list[PolicyVersionRow]:
    with store.session() as s:
        return list(s.scalars(select(PolicyVersionRow).order_by(PolicyVersionRow.id)).all())

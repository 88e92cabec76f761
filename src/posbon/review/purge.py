"""Retention: items (and their evidence, which lives in the item's row) are deleted after the policy's
retention period, except content removed by a decision less than `removed_content_days` ago (Art. 6 of
Regulation 2021/784: kept six months) and items with an open removal order, an open appeal or a decision
waiting for a second review. Decisions, orders and statements stay (without the item) for the record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from posbon.policy import RESTRICTING_ACTIONS, Policy
from posbon.review import audit
from posbon.review.session import now_utc, write_session
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import AppealRow, DecisionRow, RemovalOrderRow


@dataclass(frozen=True)
class PurgeResult:
    older: int  # items past the retention period
    purged: int  # deleted (or, in a dry run, that would be)
    kept_removed: int  # removed less than removed_content_days ago (Art. 6)
    kept_open: int  # open removal order, open appeal or pending second review
    cutoff: datetime
    dry_run: bool


def purge(
    store: Store,
    policy: Policy,
    *,
    older_than_days: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: str = "cli",
) -> PurgeResult:
    moment = now or now_utc()
    days = older_than_days if older_than_days is not None else policy.retention_days
    cutoff = moment - timedelta(days=days)
    keep_since = moment - timedelta(days=policy.removed_content_days)
    with write_session(store) as s:
        older = set(s.scalars(select(ItemRow.item_id).where(ItemRow.first_seen_at < cutoff)).all())
        removed_recently = set(
            s.scalars(
                select(DecisionRow.item_id).where(
                    DecisionRow.item_id.in_(older),
                    DecisionRow.status == "final",
                    DecisionRow.action.in_(RESTRICTING_ACTIONS),
                    DecisionRow.decided_at >= keep_since,
                )
            ).all()
        )
        open_things = set(
            s.scalars(
                select(RemovalOrderRow.item_id).where(
                    RemovalOrderRow.item_id.in_(older), RemovalOrderRow.status == "open"
                )
            ).all()
        )
        open_things |= set(
            s.scalars(
                select(DecisionRow.item_id)
                .join(AppealRow, AppealRow.decision_id == DecisionRow.id)
                .where(DecisionRow.item_id.in_(older), AppealRow.status == "open")
            ).all()
        )
        open_things |= set(
            s.scalars(
                select(DecisionRow.item_id).where(
                    DecisionRow.item_id.in_(older), DecisionRow.status == "pending_second_review"
                )
            ).all()
        )
        doomed = sorted(older - removed_recently - open_things)
        if not dry_run and doomed:
            for start in range(0, len(doomed), 500):
                s.execute(delete(ItemRow).where(ItemRow.item_id.in_(doomed[start : start + 500])))
        result = PurgeResult(
            older=len(older),
            purged=len(doomed),
            kept_removed=len(removed_recently - open_things),
            kept_open=len(open_things),
            cutoff=cutoff,
            dry_run=dry_run,
        )
        if not dry_run:
            audit.append(
                s,
                actor=actor,
                action="purge",
                subject="items",
                details={
                    "cutoff": cutoff.isoformat(),
                    "older": result.older,
                    "purged": result.purged,
                    "kept_removed": result.kept_removed,
                    "kept_open": result.kept_open,
                    "policy": f"{policy.id} v{policy.version}",
                },
            )
    return result

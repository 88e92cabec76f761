"""Repeated misuse (DSA Art. 23): warnings, then time-limited suspensions, for pseudonymous authors who
frequently post manifestly illegal content and for notifiers who frequently send manifestly unfounded
notices.

What is counted, and nothing else:
- an author: items the author pseudonym posted that carry a FINAL, HUMAN, RESTRICTING decision (remove,
  restrict, geo_block, label) that was not reversed, decided within the window. posbon stores no list of
  who viewed, liked or shared an item, so such people can never be counted; a handle mentioned in a post is
  not its author either.
- a notifier: notices decided `no_action` by a final decision not reversed, within the window. A notifier is
  named by the partner/API key that sent the notice, or, for notices with an e-mail, by a digest of it (the
  address itself never leaves the notices table).

Steps (policy profile, `misuse:`): at `warn_at` counted decisions a warning; at `suspend_at` a suspension of
`suspend_days`, which needs a prior warning that was not lifted and at least one counted decision after the
subject's latest step (so a step is never issued twice on the same decisions). A suspension uses up the
decisions it counted. Each step is stored, audited, appealable (`appeal_step` / `resolve_step_appeal`; a
reversal lifts it) and announced as a webhook event when the outbox knows the event type.
A step references the pseudonym and decision/notice ids only; there is no search or export by author.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from posbon.platform import webhooks
from posbon.policy import RESTRICTING_ACTIONS, Policy, PolicyError
from posbon.review import audit
from posbon.review.accounts import require_decider
from posbon.review.session import ReviewError, aware, now_utc, write_session
from posbon.store import Store
from posbon.store.misuse_models import MisuseStepRow
from posbon.store.models import ItemRow
from posbon.store.platform_models import NoticeRow
from posbon.store.review_models import DecisionRow

SUBJECT_KINDS = ("authors", "notifiers")
STEP_EVENT = "misuse.step"
LIFTED_EVENT = "misuse.lifted"
MAX_APPEAL = 5000


@dataclass(frozen=True)
class Thresholds:
    window_days: int
    warn_at: int
    suspend_at: int
    suspend_days: int


@dataclass(frozen=True)
class MisuseSettings:
    authors: Thresholds | None
    notifiers: Thresholds | None


def misuse_settings(policy: Policy) -> MisuseSettings:
    """The `misuse:` section of a policy; a subject kind without settings is never evaluated.

    Raises PolicyError naming the field when a value is not usable."""
    origin = f"policy {policy.id} v{policy.version}"
    raw = policy.document.get("misuse")
    if raw is None:
        return MisuseSettings(None, None)
    if not isinstance(raw, dict):
        raise PolicyError(f"{origin}: misuse: must map authors/notifiers to their settings")
    found: dict[str, Thresholds | None] = {}
    for kind in SUBJECT_KINDS:
        spec = raw.get(kind)
        if spec is None:
            found[kind] = None
            continue
        if not isinstance(spec, dict):
            raise PolicyError(f"{origin}: misuse.{kind}: must be a mapping of window_days, warn_at, ...")
        values: dict[str, int] = {}
        for key in ("window_days", "warn_at", "suspend_at", "suspend_days"):
            value = spec.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PolicyError(f"{origin}: misuse.{kind}.{key}: must be a whole number from 1 up")
            values[key] = value
        if values["suspend_at"] < values["warn_at"]:
            raise PolicyError(f"{origin}: misuse.{kind}.suspend_at: must not be below warn_at")
        found[kind] = Thresholds(**values)
    return MisuseSettings(found["authors"], found["notifiers"])


def notifier_pseudonym(notice: NoticeRow) -> str:
    """Who sent a notice, without their name: `email:<digest>` or `key:<sender>`."""
    email = (notice.notifier_email or "").strip().lower()
    if email:
        return "email:" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:20]
    return f"key:{notice.submitted_by}"


@dataclass(frozen=True)
class Counted:
    """One counted decision: the decision id, when it was taken, and (notifiers) the notice id."""

    decision_id: int
    decided_at: datetime
    notice_id: int | None = None


def _author_counts(s: Session, since: datetime) -> dict[str, list[Counted]]:
    rows = s.execute(
        select(ItemRow.author, DecisionRow.id, DecisionRow.decided_at)
        .join(DecisionRow, DecisionRow.item_id == ItemRow.item_id)
        .where(
            DecisionRow.status == "final",
            DecisionRow.automated.is_(False),
            DecisionRow.action.in_(sorted(RESTRICTING_ACTIONS)),
            DecisionRow.decided_at >= since,
            ItemRow.author.is_not(None),
        )
        .order_by(DecisionRow.id)
    ).all()
    found: dict[str, list[Counted]] = {}
    for author, decision_id, decided_at in rows:
        if author:
            found.setdefault(str(author), []).append(Counted(decision_id, aware(decided_at) or since))
    return found


def _notifier_counts(s: Session, since: datetime) -> dict[str, list[Counted]]:
    rows = s.execute(
        select(NoticeRow, DecisionRow.id, DecisionRow.decided_at)
        .join(DecisionRow, DecisionRow.id == NoticeRow.decision_id)
        .where(
            NoticeRow.status == "decided",
            DecisionRow.status == "final",
            DecisionRow.action == "no_action",
            DecisionRow.decided_at >= since,
        )
        .order_by(NoticeRow.id)
    ).all()
    found: dict[str, list[Counted]] = {}
    seen: set[tuple[str, int]] = set()
    for notice, decision_id, decided_at in rows:
        notifier = notifier_pseudonym(notice)
        # one unfounded notice per decision: the same notice sent again (a client retrying, a notifier
        # insisting) is not "frequent" misuse, and a warning must not read "5 notices" for one
        if (notifier, decision_id) in seen:
            continue
        seen.add((notifier, decision_id))
        found.setdefault(notifier, []).append(Counted(decision_id, aware(decided_at) or since, notice.id))
    return found


@dataclass(frozen=True)
class StepOut:
    """A step as the CLI and tests see it."""

    id: int
    subject_kind: str
    subject: str
    step: str
    created_at: datetime
    ends_at: datetime | None
    status: str
    decision_ids: list[int]
    notice_ids: list[int]
    explanation: str
    appeal_status: str

    @classmethod
    def of(cls, row: MisuseStepRow) -> StepOut:
        return cls(
            id=row.id,
            subject_kind=row.subject_kind,
            subject=row.subject,
            step=row.step,
            created_at=aware(row.created_at) or now_utc(),
            ends_at=aware(row.ends_at),
            status=row.status,
            decision_ids=list(row.decision_ids or []),
            notice_ids=list(row.notice_ids or []),
            explanation=row.explanation,
            appeal_status=row.appeal_status,
        )

    def active_at(self, moment: datetime) -> bool:
        if self.status != "active":
            return False
        return self.ends_at is None or self.ends_at > moment


def _event(s: Session, event_type: str, row: MisuseStepRow) -> None:
    """Announce a step if the webhook outbox knows the event type (it checks types against EVENT_TYPES)."""
    if event_type not in webhooks.EVENT_TYPES:
        return
    data: dict[str, Any] = {
        "step_id": row.id,
        "subject_kind": row.subject_kind,
        "subject": row.subject,
        "step": row.step,
        "status": row.status,
        "ends_at": aware(row.ends_at).isoformat() if row.ends_at is not None else None,  # type: ignore[union-attr]
        "decision_ids": list(row.decision_ids or []),
        "notice_ids": list(row.notice_ids or []),
    }
    webhooks.enqueue_event(s, webhooks.WebhookEvent(event_type, data))


def _describe(
    kind: str,
    subject: str,
    step: str,
    counted: list[Counted],
    limits: Thresholds,
    policy: Policy,
    ends: datetime | None,
) -> str:
    what = (
        "final restricting decisions (not reversed) on items they posted"
        if kind == "author"
        else "notices decided no_action (not reversed)"
    )
    ids = ", ".join(str(c.decision_id) for c in counted)
    notices = [str(c.notice_id) for c in counted if c.notice_id is not None]
    text = (
        f"{kind} {subject}: {len(counted)} {what} within {limits.window_days} days "
        f"(decisions {ids}{'; notices ' + ', '.join(notices) if notices else ''}). "
        f"Policy {policy.id} v{policy.version} warns at {limits.warn_at} and suspends at {limits.suspend_at} "
        "after a warning (DSA Art. 23)."
    )
    if step == "suspension" and ends is not None:
        text += f" Suspended for {limits.suspend_days} days, until {ends.isoformat(timespec='minutes')}."
    else:
        text += " Warning issued."
    return text


def _evaluate_kind(
    s: Session,
    kind: str,
    counts: dict[str, list[Counted]],
    limits: Thresholds,
    policy: Policy,
    moment: datetime,
    actor: str,
) -> list[MisuseStepRow]:
    made: list[MisuseStepRow] = []
    for subject in sorted(counts):
        history = s.scalars(
            select(MisuseStepRow)
            .where(MisuseStepRow.subject_kind == kind, MisuseStepRow.subject == subject)
            .order_by(MisuseStepRow.id)
        ).all()
        consumed = {
            d for h in history if h.step == "suspension" and h.status == "active" for d in h.decision_ids
        }
        counted = [c for c in counts[subject] if c.decision_id not in consumed]
        if not counted:
            continue
        latest = history[-1] if history else None
        if latest is not None:
            if not {c.decision_id for c in counted} - set(latest.decision_ids or []):
                continue  # nothing new since the latest step
            if latest.step == "suspension" and latest.status == "active":
                ends = aware(latest.ends_at)
                if ends is None or ends > moment:
                    continue  # already suspended
        warned = any(h.step == "warning" and h.status == "active" for h in history)
        if len(counted) >= limits.suspend_at and warned:
            step, ends_at = "suspension", moment + timedelta(days=limits.suspend_days)
        elif len(counted) >= limits.warn_at and not warned:
            step, ends_at = "warning", None
        else:
            continue
        row = MisuseStepRow(
            subject_kind=kind,
            subject=subject,
            step=step,
            created_at=moment,
            ends_at=ends_at,
            status="active",
            decision_ids=[c.decision_id for c in counted],
            notice_ids=[c.notice_id for c in counted if c.notice_id is not None],
            explanation=_describe(kind, subject, step, counted, limits, policy, ends_at),
            policy_id=policy.id,
            policy_version=policy.version,
            actor=actor,
            appeal_status="none",
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            actor=actor,
            action=f"misuse.{step}",
            subject=f"misuse:{kind}:{subject}",
            details={
                "step_id": row.id,
                "decision_ids": row.decision_ids,
                "notice_ids": row.notice_ids,
                "count": len(counted),
                "window_days": limits.window_days,
                "ends_at": ends_at.isoformat() if ends_at is not None else None,
                "policy": f"{policy.id} v{policy.version}",
            },
        )
        _event(s, STEP_EVENT, row)
        made.append(row)
    return made


def evaluate(
    store: Store, policy: Policy, *, now: datetime | None = None, actor: str = "posbon"
) -> list[StepOut]:
    """Compute and record the steps due now under `policy`'s `misuse:` settings; returns the new steps."""
    settings = misuse_settings(policy)
    moment = aware(now) or now_utc()
    made: list[MisuseStepRow] = []
    with write_session(store) as s:
        if settings.authors is not None:
            since = moment - timedelta(days=settings.authors.window_days)
            made += _evaluate_kind(
                s, "author", _author_counts(s, since), settings.authors, policy, moment, actor
            )
        if settings.notifiers is not None:
            since = moment - timedelta(days=settings.notifiers.window_days)
            made += _evaluate_kind(
                s, "notifier", _notifier_counts(s, since), settings.notifiers, policy, moment, actor
            )
        return [StepOut.of(r) for r in made]


def steps(store: Store, *, subject: str | None = None, active_at: datetime | None = None) -> list[StepOut]:
    """Recorded steps, newest first; of one pseudonym, or only those in force at `active_at`."""
    query = select(MisuseStepRow).order_by(MisuseStepRow.id.desc())
    if subject is not None:
        query = query.where(MisuseStepRow.subject == subject)
    with store.session() as s:
        found = [StepOut.of(r) for r in s.scalars(query).all()]
    if active_at is not None:
        found = [f for f in found if f.active_at(aware(active_at) or now_utc())]
    return found


def is_suspended(store: Store, kind: str, subject: str, *, now: datetime | None = None) -> bool:
    """Whether a suspension of this author/notifier pseudonym is in force."""
    moment = aware(now) or now_utc()
    return any(
        st.step == "suspension" and st.subject_kind == kind and st.active_at(moment)
        for st in steps(store, subject=subject)
    )


def _step(s: Session, step_id: int) -> MisuseStepRow:
    row = s.get(MisuseStepRow, step_id)
    if row is None:
        raise ReviewError(f"no misuse step with id {step_id}")
    return row


def appeal_step(store: Store, step_id: int, reason: str, *, actor: str = "complainant") -> StepOut:
    """The subject's complaint against a warning or suspension (DSA Art. 20 applies to Art. 23 steps)."""
    reason = reason.strip()
    if not reason:
        raise ReviewError("an appeal needs its reason")
    if len(reason) > MAX_APPEAL:
        raise ReviewError(f"an appeal is at most {MAX_APPEAL} characters")
    with write_session(store) as s:
        row = _step(s, step_id)
        if row.status != "active":
            raise ReviewError(f"misuse step {step_id} is {row.status}: not open to appeal")
        if row.appeal_status != "none":
            raise ReviewError(f"misuse step {step_id} was already appealed ({row.appeal_status})")
        row.appeal_status, row.appeal_reason, row.appeal_received_at = "open", reason, now_utc()
        audit.append(
            s,
            actor=actor[:100],
            action="misuse.appeal",
            subject=f"misuse_step:{step_id}",
            details={"step": row.step, "reason_chars": len(reason)},
        )
        return StepOut.of(row)


def resolve_step_appeal(store: Store, step_id: int, *, reviewer: str, upheld: bool, reason: str) -> StepOut:
    """A reviewer upholds the step, or reverses it: the step is lifted (and announced)."""
    require_decider(store, reviewer)
    reason = reason.strip()
    if not reason:
        raise ReviewError("resolving an appeal needs a reason")
    with write_session(store) as s:
        row = _step(s, step_id)
        if row.appeal_status != "open":
            raise ReviewError(f"misuse step {step_id} has no open appeal")
        row.appeal_status = "upheld" if upheld else "reversed"
        row.resolved_by, row.resolved_at, row.resolution_reason = reviewer, now_utc(), reason
        if not upheld:
            row.status = "lifted"
        audit.append(
            s,
            actor=reviewer,
            action="misuse.appeal_upheld" if upheld else "misuse.lifted",
            subject=f"misuse_step:{step_id}",
            details={"step": row.step, "reason": reason},
        )
        if not upheld:
            _event(s, LIFTED_EVENT, row)
        return StepOut.of(row)

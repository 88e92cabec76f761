"""Notice and action (DSA Art. 16): notices about content, checked for the elements Art. 16(2) names,
acknowledged, and routed to the review queue.

A notice on an item posbon holds (by item id, or by an exact URL equal to an item's URL) opens that item's
queue place with reason "notice"; a URL posbon does not hold yet is kept as an open notice, attached later
by `link_open_notices`. Notices from trusted flaggers (Art. 22) are marked and go ahead of every other
notice and flagged item (only removal orders stay in front). When the item is decided the notice records
the outcome (see posbon.platform.webhooks) for the notifier to fetch, and a `notice.decided` event goes out.

The notifier's name and e-mail are personal data: they never enter the audit log, events, statements of
reasons or exports, and `purge_notice_contacts` erases them once the notice was decided and
CONTACT_KEEP_DAYS have passed (long enough to answer questions about the outcome).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from posbon.platform.webhooks import outcome_text
from posbon.policy import Policy
from posbon.review import audit
from posbon.review.policies import active_policy
from posbon.review.queue import TRUSTED_SHIFT, entry_for, priority_key
from posbon.review.session import ReviewError, now_utc, write_session
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.platform_models import NoticeRow
from posbon.store.review_models import DecisionRow

MAX_EXPLANATION = 5000
MAX_URL = 2000
CONTACT_KEEP_DAYS = 30
# A queue place already open for one of these reasons keeps it: they say more than "notice" does.
STRONGER_REASONS = frozenset({"order", "second_review", "appeal", "escalated"})
# Deliberately loose (one @, a dot in the domain): a notifier's address is for replies, not for validation
# by a library that would also refuse valid internationalised addresses.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class NoticeInvalid(ValueError):
    """A notice missing elements Art. 16(2) requires: `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


@dataclass(frozen=True)
class NoticeIn:
    explanation: str
    good_faith: bool
    item_id: str | None = None
    url: str | None = None
    notifier_name: str | None = None
    notifier_email: str | None = None
    csam_exemption: bool = False  # Art. 16(2)(c): offences of Arts. 3-7 of Directive 2011/93/EU
    category: str | None = None


def check_notice(notice: NoticeIn) -> list[tuple[str, str]]:
    """The (field, message) problems of a notice; empty when it has every element Art. 16(2) asks for."""
    problems: list[tuple[str, str]] = []
    if not notice.explanation.strip():
        problems.append(("explanation", "explain why the content is illegal"))
    elif len(notice.explanation) > MAX_EXPLANATION:
        problems.append(("explanation", f"at most {MAX_EXPLANATION} characters"))
    if not (notice.item_id or "").strip() and not (notice.url or "").strip():
        problems.append(("url", "give the exact URL of the content (or the item_id posbon holds it under)"))
    if notice.url:
        parts = urlsplit(notice.url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or len(notice.url) > MAX_URL:
            problems.append(("url", "must be an exact http(s) URL of at most 2000 characters"))
    if not notice.csam_exemption:
        if not (notice.notifier_name or "").strip():
            problems.append(
                ("notifier_name", "required unless the notice concerns child sexual abuse offences")
            )
        if not (notice.notifier_email or "").strip():
            problems.append(
                ("notifier_email", "required unless the notice concerns child sexual abuse offences")
            )
    if notice.notifier_email and not EMAIL.fullmatch(notice.notifier_email.strip()):
        problems.append(("notifier_email", "is not an e-mail address"))
    if notice.good_faith is not True:
        problems.append(("good_faith", "the notifier must confirm in good faith that the notice is accurate"))
    return problems


def _final_decision(s: Session, item_id: str) -> DecisionRow | None:
    return s.scalar(
        select(DecisionRow)
        .where(
            DecisionRow.item_id == item_id, DecisionRow.status == "final", DecisionRow.action != "escalate"
        )
        .order_by(DecisionRow.id.desc())
    )


def _route(s: Session, notice: NoticeRow, item: ItemRow, policy: Policy) -> None:
    """Attach a notice to its item and queue the item (or answer at once if the item was decided)."""
    notice.item_id = item.item_id
    if notice.url is None and item.url:
        notice.url = item.url
    decided = _final_decision(s, item.item_id)
    if decided is not None:
        notice.status, notice.decision_id = "decided", decided.id
        notice.decided_at, notice.outcome = now_utc(), outcome_text(decided)
        return
    notice.status = "queued"
    place = entry_for(s, item, policy)
    if not (place.state == "open" and place.reason in STRONGER_REASONS):
        place.state, place.reason = "open", "notice"
    if notice.trusted:
        base = priority_key(item.risk, policy.weight(place.category))
        place.priority = min(place.priority, base - TRUSTED_SHIFT)
    place.synced_at = now_utc()


def submit_notice(
    store: Store,
    notice: NoticeIn,
    *,
    submitted_by: str,
    trusted: bool = False,
    policy: Policy | None = None,
) -> NoticeRow:
    """Check, store and route a notice; raises NoticeInvalid (with field names) when elements are missing."""
    problems = check_notice(notice)
    item_id = (notice.item_id or "").strip() or None
    policy = policy or active_policy(store)
    with write_session(store) as s:
        item: ItemRow | None = None
        if item_id is not None:
            item = s.get(ItemRow, item_id)
            if item is None and not (notice.url or "").strip():
                problems.append(("item_id", f"posbon holds no item {item_id!r}: send its url instead"))
            # an id posbon does not hold, sent with the post's url: the url finds it (or waits for it)
        if problems:
            raise NoticeInvalid(problems)
        url = notice.url.strip() if notice.url else None
        if item is None and url is not None:
            item = s.scalar(select(ItemRow).where(ItemRow.url == url).limit(1))
        row = NoticeRow(
            received_at=now_utc(),
            url=url,
            explanation=notice.explanation.strip(),
            category=notice.category,
            csam_exemption=notice.csam_exemption,
            notifier_name=(notice.notifier_name or "").strip() or None,
            notifier_email=(notice.notifier_email or "").strip() or None,
            good_faith=True,
            submitted_by=submitted_by[:120],
            trusted=trusted,
            status="open",
        )
        s.add(row)
        s.flush()
        if item is not None:
            _route(s, row, item, policy)
        audit.append(
            s,
            actor=submitted_by[:100],
            action="notice.received",
            subject=f"notice:{row.id}",
            details={"item_id": row.item_id, "trusted": trusted, "status": row.status},
        )
    return row


def get_notice(store: Store, notice_id: int) -> NoticeRow | None:
    with store.session() as s:
        return s.get(NoticeRow, notice_id)


def link_open_notices(store: Store, policy: Policy | None = None) -> int:
    """Attach open notices about URLs to items that arrived since (exact URL match); returns how many."""
    policy = policy or active_policy(store)
    linked = 0
    with write_session(store) as s:
        waiting = s.scalars(
            select(NoticeRow).where(NoticeRow.status == "open", NoticeRow.item_id.is_(None))
        ).all()
        for notice in waiting:
            if notice.url is None:
                continue
            item = s.scalar(select(ItemRow).where(ItemRow.url == notice.url).limit(1))
            if item is not None:
                _route(s, notice, item, policy)
                linked += 1
    return linked


def purge_notice_contacts(
    store: Store, *, keep_days: int = CONTACT_KEEP_DAYS, now: datetime | None = None
) -> int:
    """Erase notifier names and e-mails of notices decided more than `keep_days` ago; returns how many."""
    if keep_days < 0:
        raise ReviewError("keep_days must be 0 or more")
    moment = now or datetime.now(UTC)
    cutoff = moment - timedelta(days=keep_days)
    with write_session(store) as s:
        result = s.execute(
            update(NoticeRow)
            .where(
                NoticeRow.status == "decided",
                NoticeRow.decided_at <= cutoff,
                NoticeRow.contacts_erased_at.is_(None),
            )
            .values(notifier_name=None, notifier_email=None, contacts_erased_at=moment)
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            audit.append(
                s,
                actor="posbon",
                action="notice.contacts_erased",
                subject="notices",
                details={"count": count, "decided_before": cutoff.isoformat()},
            )
    return count

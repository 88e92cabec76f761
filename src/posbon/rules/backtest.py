"""Backtest: run a rule (usually a draft) over the stored item history and show what it would have done,
and how that compares with what humans decided on the same items. Nothing is written.

Items are streamed in batches ordered by item id (keyset pagination), so memory stays flat however long the
history; the per-item test is the pure `evaluate(rule, item)`, the same one a scan uses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from posbon.domain import Evidence
from posbon.rules.conditions import ItemView, triggering
from posbon.rules.definitions import Enforce, Rule, evaluate
from posbon.rules.service import ITEM_COLUMNS
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import DecisionRow

BATCH = 1000
SAMPLES = 10


@dataclass(frozen=True)
class Sample:
    item_id: str
    source: str
    language: str
    verdict: str
    risk: float
    evidence: tuple[Evidence, ...]  # what made the rule's condition true


@dataclass
class Overlap:
    """Of the items an enforcement rule would act on, what humans decided (their newest standing decision).

    agreed: a final human decision with the rule's action; no_action: humans decided no action; other: a
    final different action (e.g. label where the rule removes); reversed: a human decision undone on appeal;
    pending: waiting for a second review, or escalated; undecided: no human decision at all.
    """

    agreed: int = 0
    no_action: int = 0
    other: int = 0
    reversed: int = 0
    pending: int = 0
    undecided: int = 0

    @property
    def settled(self) -> int:
        return self.agreed + self.no_action + self.other + self.reversed

    @property
    def precision(self) -> float | None:
        """agreed / settled: how often humans who looked did what the rule would do; None if none looked."""
        return self.agreed / self.settled if self.settled else None


@dataclass
class BacktestResult:
    rule: Rule
    examined: int = 0
    matched: int = 0
    actions: Counter[str] = field(default_factory=Counter)  # would_act -> items
    samples: list[Sample] = field(default_factory=list)
    overlap: Overlap | None = None  # enforcement rules only


def backtest(
    store: Store,
    rule: Rule,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    batch: int = BATCH,
    samples: int = SAMPLES,
) -> BacktestResult:
    """What `rule` would have done over stored items (posted, or else first seen, at or after `since`; at
    most `limit` items examined), whatever its status."""
    result = BacktestResult(rule=rule, overlap=Overlap() if isinstance(rule.then, Enforce) else None)
    when = func.coalesce(ItemRow.created_at, ItemRow.first_seen_at)
    last: str | None = None
    while limit is None or result.examined < limit:
        size = batch if limit is None else min(batch, limit - result.examined)
        query = select(*ITEM_COLUMNS).order_by(ItemRow.item_id).limit(size)
        if last is not None:
            query = query.where(ItemRow.item_id > last)
        if since is not None:
            query = query.where(when >= _utc(since))
        with store.session() as s:
            rows = s.execute(query).all()
        if not rows:
            break
        last = rows[-1].item_id
        hit_ids: list[str] = []
        for row in rows:
            view = ItemView.from_row(row._mapping)
            result.examined += 1
            if not evaluate(rule, view):
                continue
            result.matched += 1
            result.actions[rule.would_act] += 1
            hit_ids.append(view.item_id)
            if len(result.samples) < samples:
                result.samples.append(
                    Sample(
                        view.item_id,
                        view.source,
                        view.language,
                        view.verdict,
                        view.risk,
                        tuple(triggering(rule.when, view)),
                    )
                )
        if result.overlap is not None and hit_ids:
            assert isinstance(rule.then, Enforce)
            _count_overlap(store, hit_ids, rule.then.action, result.overlap)
    return result


def _count_overlap(store: Store, item_ids: list[str], action: str, overlap: Overlap) -> None:
    with store.session() as s:
        rows = s.execute(
            select(DecisionRow.item_id, DecisionRow.action, DecisionRow.status)
            .where(
                DecisionRow.item_id.in_(item_ids),
                DecisionRow.automated.is_(False),
                DecisionRow.status != "superseded",
            )
            .order_by(DecisionRow.id)
        ).all()
    standing: dict[str, tuple[str, str]] = {}
    for item_id, decided, status in rows:
        if item_id is not None:
            standing[item_id] = (decided, status)  # the newest wins
    for item_id in item_ids:
        found = standing.get(item_id)
        if found is None:
            overlap.undecided += 1
            continue
        decided, status = found
        if status == "reversed":
            overlap.reversed += 1
        elif status != "final" or decided == "escalate":
            overlap.pending += 1
        elif decided == action:
            overlap.agreed += 1
        elif decided == "no_action":
            overlap.no_action += 1
        else:
            overlap.other += 1


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

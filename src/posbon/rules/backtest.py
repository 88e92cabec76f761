"""Backtest: run a rule (usually a draft) over the stored item history and show what it would have done,
and how that compares with what humans decided on the same items. Nothing is written.

Items are streamed in batches ordered by item id (keyset pagination), so memory stays flat however long the
history; the per-item test is the pure `evaluate(rule, item)`, the same one a scan uses.

For large stores the backtest runs on an engine (`engine=`, `posbon rules backtest --engine dask`): this
process cuts the item-id space into ranges and workers run the same loop over each range, opening the store
from its URL (a SQLite file only works when every worker shares its file system; use PostgreSQL otherwise).
Counts and overlap add up, and samples are the first matches by item id, so the result is the local one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from posbon.domain import Evidence
from posbon.engines import Engine
from posbon.rules.conditions import ItemView, triggering
from posbon.rules.definitions import Enforce, Rule, evaluate, rule_from_document
from posbon.rules.service import ITEM_COLUMNS
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import DecisionRow

BATCH = 1000
SAMPLES = 10
PARTITION_SIZE = 10_000  # items per range shipped to a worker (read there in batches of BATCH)


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
    engine: Engine | None = None,
    partition_size: int = PARTITION_SIZE,
) -> BacktestResult:
    """What `rule` would have done over stored items (posted, or else first seen, at or after `since`; at
    most `limit` items examined), whatever its status.

    Without `engine` (or with a `limit`, which needs the items in order) it runs in this process. With an
    engine, the item-id space is cut into ranges of `partition_size` items that workers evaluate, each
    opening the store from its database URL; the merged result is the same as in this process."""
    result = BacktestResult(rule=rule, overlap=Overlap() if isinstance(rule.then, Enforce) else None)
    if engine is None or limit is not None:
        _run_range(store, rule, result, since=since, limit=limit, batch=batch, samples=samples)
    else:
        _run_on_engine(store, rule, result, engine, since, batch, samples, partition_size)
    return result


def _run_range(
    store: Store,
    rule: Rule,
    result: BacktestResult,
    *,
    since: datetime | None,
    after: str | None = None,
    upto: str | None = None,
    limit: int | None = None,
    batch: int = BATCH,
    samples: int = SAMPLES,
) -> None:
    """Add to `result` the items with after < item_id <= upto (None: unbounded), in item-id order."""
    when = func.coalesce(ItemRow.created_at, ItemRow.first_seen_at)
    last = after
    while limit is None or result.examined < limit:
        size = batch if limit is None else min(batch, limit - result.examined)
        query = select(*ITEM_COLUMNS).order_by(ItemRow.item_id).limit(size)
        if last is not None:
            query = query.where(ItemRow.item_id > last)
        if upto is not None:
            query = query.where(ItemRow.item_id <= upto)
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


# ---- on an engine: the lead cuts the item-id space into ranges, workers evaluate them ----------------------


class BacktestError(Exception):
    """A backtest that cannot run on the engine asked for (one line for the user)."""


@dataclass(frozen=True)
class BacktestPartition:
    """What a worker needs: plain, picklable values. The rule travels as its document (what `rules load`
    stores) and is rebuilt on the worker; the worker opens the store itself from the URL."""

    index: int
    database_url: str
    rule: dict[str, Any]
    after: str | None  # item ids greater than this ...
    upto: str | None  # ... up to and including this; None: no bound
    since: datetime | None
    samples: int
    batch: int = BATCH


@dataclass
class PartitionCounts:
    index: int
    examined: int
    matched: int
    actions: Counter[str]
    samples: list[Sample]  # the first `samples` matches of the range, in item-id order
    overlap: Overlap | None


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def _worker_store(url: str) -> Store:
    """One store per worker process, kept for the partitions that follow (opening one migrates to head)."""
    with _STORES_LOCK:
        found = _STORES.get(url)
        if found is not None:
            return found
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.is_file():  # Store.open would create an empty database: every range would be empty
                raise BacktestError(
                    f"a worker cannot see the database {path}: workers must share its file system, "
                    "or use PostgreSQL"
                )
        store = Store.open(url)
        for old in _STORES.values():  # a long-lived worker keeps only the database it serves now
            old.close()
        _STORES.clear()
        _STORES[url] = store
        return store


def backtest_partition(partition: BacktestPartition) -> PartitionCounts:
    """The function a worker runs: one range of item ids through the same loop as a local backtest."""
    rule = rule_from_document(partition.rule, origin=f"backtest partition {partition.index}")
    store = _worker_store(partition.database_url)
    result = BacktestResult(rule=rule, overlap=Overlap() if isinstance(rule.then, Enforce) else None)
    _run_range(
        store,
        rule,
        result,
        since=partition.since,
        after=partition.after,
        upto=partition.upto,
        batch=partition.batch,
        samples=partition.samples,
    )
    return PartitionCounts(
        partition.index, result.examined, result.matched, result.actions, result.samples, result.overlap
    )


def partition_bounds(
    store: Store, since: datetime | None, size: int
) -> Iterator[tuple[str | None, str | None]]:
    """(after, upto] ranges of `size` items each (the last one open-ended), found lazily with one cheap
    query per range: the id of the size-th item after the previous bound."""
    if size < 1:
        raise BacktestError(f"partition size must be at least 1, not {size}")
    when = func.coalesce(ItemRow.created_at, ItemRow.first_seen_at)
    after: str | None = None
    while True:
        query = select(ItemRow.item_id).order_by(ItemRow.item_id).offset(size - 1).limit(1)
        if after is not None:
            query = query.where(ItemRow.item_id > after)
        if since is not None:
            query = query.where(when >= _utc(since))
        with store.session() as s:
            upto = s.scalar(query)
        yield after, upto
        if upto is None:
            return
        after = upto


def _run_on_engine(
    store: Store,
    rule: Rule,
    result: BacktestResult,
    engine: Engine,
    since: datetime | None,
    batch: int,
    samples: int,
    partition_size: int,
) -> None:
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise BacktestError(
            "an in-memory database cannot be backtested on an engine: use a file or PostgreSQL"
        )
    rebuilt = rule_from_document(rule.document, origin=f"rule {rule.name}") if rule.document else None
    if rebuilt is None or (rebuilt.when, rebuilt.then) != (rule.when, rule.then):
        raise BacktestError(f"rule {rule.name} has no document that rebuilds it: load it from a rules file")
    database_url = url.render_as_string(hide_password=False)  # for the workers only; never printed

    def partitions() -> Iterator[BacktestPartition]:
        for index, (after, upto) in enumerate(partition_bounds(store, since, partition_size)):
            yield BacktestPartition(index, database_url, rule.document, after, upto, since, samples, batch)

    # samples are the first `samples` matches by item id: partitions finish in any order, so keep each
    # partition's until every earlier partition is in, then only as many as are still needed
    found: dict[int, list[Sample]] = {}
    for counts in engine.map_partitions(backtest_partition, partitions()):
        result.examined += counts.examined
        result.matched += counts.matched
        result.actions.update(counts.actions)
        if result.overlap is not None and counts.overlap is not None:
            _add_overlap(result.overlap, counts.overlap)
        if counts.samples:
            found[counts.index] = counts.samples
            found = _first_samples(found, samples)
    for index in sorted(found):
        result.samples.extend(found[index])
    del result.samples[samples:]


def _first_samples(found: dict[int, list[Sample]], wanted: int) -> dict[int, list[Sample]]:
    """Drop the partitions that come after enough samples (by partition index, which is item-id order)."""
    kept: dict[int, list[Sample]] = {}
    total = 0
    for index in sorted(found):
        if total >= wanted:
            break
        kept[index] = found[index]
        total += len(found[index])
    return kept


def _add_overlap(total: Overlap, part: Overlap) -> None:
    for name in ("agreed", "no_action", "other", "reversed", "pending", "undecided"):
        setattr(total, name, getattr(total, name) + getattr(part, name))


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

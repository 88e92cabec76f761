"""Backtests on an engine: the item-id space cut into ranges, evaluated on a 2-worker local Dask cluster (and
on the in-process engine), give exactly the local backtest's result."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from posbon.domain import Evidence
from posbon.engines import LocalEngine
from posbon.engines.dask_engine import DaskEngine
from posbon.policy import load_profile
from posbon.review import appeal, decide, resolve_appeal, sync_queue
from posbon.rules import backtest, rule_from_document
from posbon.rules.backtest import partition_bounds
from posbon.settings import Settings
from posbon.store import Store
from review_helpers import add_items, add_reviewers, open_store
from test_rules import PDQ_HIT, row, rule_doc

EU = load_profile("eu")
P = TypeVar("P")
R = TypeVar("R")
ITEMS = 300
CALL = Evidence(kind="indicator", detail="reworded", category="call_to_join", weight=0.6)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield str(local.scheduler_address)


def big_history(store: Store) -> None:
    """Every third item carries a TAT bank match (100 of 300); humans decided 30 of those, 6 each way."""
    add_reviewers(store, "alice", "bob")
    rows = []
    for n in range(1, ITEMS + 1):
        if n % 3 == 0:
            rows.append(row(n, [PDQ_HIT]))
        elif n % 3 == 1:
            rows.append(row(n, [CALL], verdict="review", risk=0.6))
        else:
            rows.append(row(n, [], verdict="clear", risk=0.0))
    add_items(store, rows)
    sync_queue(store, EU)

    def human(n: int, action: str, who: str = "alice") -> int:
        return decide(store, f"item{n:08d}", action, reviewer=who, reason="checked", policy=EU).id

    for n in range(3, 91, 3):
        match n % 15:
            case 0:
                human(n, "remove")  # agreed
            case 3:
                human(n, "label")  # another action
            case 6:
                human(n, "no_action")
                human(n, "no_action", "bob")  # confirmed: no action, final
            case 9:
                human(n, "no_action")  # waits for a second reviewer: pending
            case 12:
                removed = human(n, "remove")
                complaint = appeal(store, removed, "It is an archive photo.")
                resolve_appeal(store, complaint.id, reviewer="bob", upheld=False, reason="archive")
    for n in (1, 4, 7):
        human(n, "remove")  # not matched by the rule: never counted


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path)
    big_history(s)
    return s


RULE = rule_from_document(rule_doc("tat-remove", "draft"))


def test_partition_bounds_cover_the_ids_once(store: Store) -> None:
    bounds = list(partition_bounds(store, None, 50))
    assert len(bounds) == 7  # 6 full ranges and the open-ended (here empty) last one
    assert bounds[0] == (None, "item00000050") and bounds[-1] == ("item00000300", None)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    since = datetime(2026, 10, 5, tzinfo=UTC)  # item n is posted at hour n: items 96 on
    assert next(iter(partition_bounds(store, since, 10))) == (None, "item00000105")


def test_in_process_engine_with_ranges_equals_the_plain_backtest(store: Store) -> None:
    plain = backtest(store, RULE, samples=20)
    ranged = backtest(store, RULE, samples=20, engine=LocalEngine(), partition_size=7, batch=3)
    assert ranged == plain
    assert (plain.examined, plain.matched, dict(plain.actions)) == (ITEMS, 100, {"decide:remove": 100})
    overlap = plain.overlap
    assert overlap is not None
    assert (overlap.agreed, overlap.other, overlap.no_action, overlap.pending, overlap.reversed) == (6,) * 5
    assert overlap.undecided == 70
    assert [s.item_id for s in plain.samples] == [f"item{n:08d}" for n in range(3, 61, 3)]
    assert all(s.evidence == (PDQ_HIT,) for s in plain.samples)


class Reversed:
    """An engine whose results come back in the worst order: last partition first."""

    name = "reversed"

    def map_partitions(self, fn: Callable[[P], R], partitions: Iterable[P]) -> Iterator[R]:
        return iter([fn(p) for p in partitions][::-1])

    def close(self) -> None:
        return None


def test_results_in_any_order_merge_to_the_first_samples_by_item_id(store: Store) -> None:
    plain = backtest(store, RULE, samples=12)
    assert backtest(store, RULE, samples=12, engine=Reversed(), partition_size=5) == plain
    assert backtest(store, RULE, samples=0, engine=Reversed(), partition_size=5).samples == []


def test_dask_backtest_equals_the_local_one(store: Store, cluster: str) -> None:
    engine = DaskEngine(cluster)
    try:
        local = backtest(store, RULE, samples=20)
        on_dask = backtest(store, RULE, samples=20, engine=engine, partition_size=50)
        assert on_dask == local
        assert (on_dask.examined, on_dask.matched) == (ITEMS, 100)
        assert on_dask.overlap is not None and on_dask.overlap.precision == pytest.approx(6 / 24)
        assert [s.item_id for s in on_dask.samples][-1] == "item00000060"  # from the second range
        since = datetime(2026, 10, 5, tzinfo=UTC)  # item n is posted at hour n
        local_since = backtest(store, RULE, since=since)
        dask_since = backtest(store, RULE, since=since, engine=engine, partition_size=50)
        assert dask_since == local_since and (dask_since.examined, dask_since.matched) == (205, 69)
        route = rule_from_document(
            rule_doc("cj-route", "draft", kind="routing", when={"indicator": {"category": "call_to_join"}})
        )
        routed = backtest(store, route, engine=engine, partition_size=50)
        assert routed == backtest(store, route) and dict(routed.actions) == {"queue:tat-desk": 100}
        assert routed.overlap is None
    finally:
        engine.close()


def test_cli_backtest_on_dask(tmp_path: Path, cluster: str) -> None:
    from posbon.cli import app
    from posbon.cli_rules import register

    if not any(g.name == "rules" for g in app.registered_groups):
        register(app)
    store = Store.open(Settings.load().database_url)
    big_history(store)
    rules_file = tmp_path / "tat.yaml"
    rules_file.write_text(
        "id: tat-remove\nversion: 1\nkind: enforcement\nstatus: draft\n"
        "when: {evidence: {kind: bank_match, bank: tat-hashes}}\n"
        "then: {decide: remove, reason: known poster}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    args = ["rules", "backtest", str(rules_file), "--samples", "3"]
    local = runner.invoke(app, args)
    dask = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", cluster, "--partition-size", "40"])
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    assert "100 of 300 items matched" in dask.output and "agreed 6" in dask.output
    assert dask.output == local.output
    missing = runner.invoke(app, [*args, "--engine", "dask"])
    assert missing.exit_code == 2 and "--scheduler" in missing.output
    limited = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", cluster, "--limit", "30"])
    assert limited.exit_code == 0 and "10 of 30 items matched" in limited.output

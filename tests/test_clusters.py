"""Clusters of unbanked near-duplicates spreading across sources: found, filtered, banked, stable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from posbon.clusters import ClusterError, bank_cluster, list_clusters, recompute_clusters
from posbon.domain import Item
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.store import Store, StoreError
from posbon.store.cluster_models import ClusterMemberRow, ClusterRow
from posbon.store.models import Base, ItemRow

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

# Benign stand-ins with the shape of a new release re-posted across channels.
RELEASE = (
    "Lantern Signal Media presents the winter almanac of the Quiet River hiking circle: twelve night walks, "
    "the lamp-makers' songs and the map of the old bridge path. Read it before the first snow falls."
)
RELEASE_COPIES = [
    RELEASE,
    "Forwarded: " + RELEASE + " 🌙🌙",
    RELEASE.replace("twelve", "12").replace(":", " -") + " #almanac",
    RELEASE.upper(),
    "Репост. " + RELEASE,
]
LOCAL_REPEAT = (
    "The valley bakery on Rudaki street opens at seven tomorrow; fresh non bread and samsa for everyone who "
    "comes early, prices unchanged since spring."
)
KNOWN = (
    "Mountain Lamp bulletin: the closed reading circle meets again this Friday. Write to the organiser in "
    "private to receive the address and the rules of the circle before Thursday evening."
)
NEWS = [
    "Bread prices rose by four percent in the capital market this week, traders said on Monday.",
    "The city council approved repairs to eleven kilometres of road along the northern canal.",
    "Football: the local team won three to one on Saturday in front of a full stadium.",
    "Weather: rain in the valley on Tuesday, nineteen degrees in the afternoon, wind from the west.",
]


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'posbon.db'}", pseudonym_key=b"test-key"
    )


def post(source: str, n: int, text: str, hours: float) -> Item:
    return Item(
        source=source, external_id=str(n), text=text, created_at=T0 + timedelta(hours=hours), author="a" * 16
    )


def corpus() -> list[Item]:
    items = [post(f"channel_{i}", 1, t, hours=i) for i, t in enumerate(RELEASE_COPIES)]
    items += [post("channel_bakery", 10 + i, LOCAL_REPEAT, hours=i) for i in range(4)]
    items += [post(f"channel_{i}", 20, KNOWN, hours=i) for i in range(3)]
    items += [post("channel_news", 30 + i, t, hours=i) for i, t in enumerate(NEWS)]
    return items


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(settings_for(tmp_path).database_url)
    s.create_bank("known")
    from posbon.domain import SignalType
    from posbon.match.banklist import NewEntry, validate_signal

    value, original = validate_signal(SignalType.TEXT, KNOWN)
    s.add_entries("known", [NewEntry(SignalType.TEXT, value, "known", {}, original, "test")])
    return s


def scan(store: Store, tmp_path: Path, items: list[Item]) -> dict[str, str]:
    run_scan(store, settings_for(tmp_path), [], items=items)
    with store.session() as s:
        return dict(s.execute(select(ItemRow.item_id, ItemRow.verdict)).all())


def test_cluster_across_sources_listed_single_source_and_matched_excluded(
    store: Store, tmp_path: Path
) -> None:
    items = corpus()
    verdicts = scan(store, tmp_path, items)
    known_ids = {i.item_id for i in items if i.text == KNOWN}
    assert {verdicts[k] for k in known_ids} == {"match"}

    stats = recompute_clusters(store)
    assert stats.clusters == 2  # the release and the single-source repetition
    listed = list_clusters(store, min_sources=2, min_size=3)
    assert len(listed) == 1
    release = listed[0]
    assert release.size == len(RELEASE_COPIES)
    assert release.source_count == len(RELEASE_COPIES)
    assert release.first_seen_at == T0
    assert release.snippet.startswith("Lantern Signal Media presents")
    assert release.languages  # recorded per item
    # the bakery's repeated post is a cluster of one source: shown only when one source is enough
    one_source = list_clusters(store, min_sources=1, min_size=3)
    assert {c.size for c in one_source} == {len(RELEASE_COPIES), 4}
    # matched items are not clustered at all
    with store.session() as s:
        members = set(s.scalars(select(ClusterMemberRow.item_id)).all())
    assert not members & known_ids
    # --since keeps clusters with a post on or after the date
    assert list_clusters(store, since=T0 + timedelta(days=2)) == []
    assert len(list_clusters(store, since=T0 + timedelta(hours=3))) == 1
    # privacy: nothing about authors in the listing
    assert "author" not in json.dumps(release.to_dict())


def test_ids_stable_across_runs_and_growth(store: Store, tmp_path: Path) -> None:
    scan(store, tmp_path, corpus())
    recompute_clusters(store)
    first = [c.cluster_id for c in list_clusters(store)]
    recompute_clusters(store)
    assert [c.cluster_id for c in list_clusters(store)] == first
    # an earlier copy turning up later does not rename the cluster
    scan(store, tmp_path, [post("channel_late", 99, RELEASE + " (repost)", hours=-5)])
    recompute_clusters(store)
    grown = list_clusters(store)
    assert [c.cluster_id for c in grown] == first
    assert grown[0].size == len(RELEASE_COPIES) + 1
    assert grown[0].first_seen_at == T0 - timedelta(hours=5)


def test_bank_cluster_then_rescan_matches(store: Store, tmp_path: Path) -> None:
    items = corpus()
    scan(store, tmp_path, items)
    recompute_clusters(store)
    (release,) = list_clusters(store)
    with pytest.raises(StoreError):
        bank_cluster(store, release.cluster_id, "no-such-bank")
    with pytest.raises(ClusterError):
        bank_cluster(store, "c0000000000000000", "known")
    store.create_bank("new-releases")
    result = bank_cluster(store, release.cluster_id, "new-releases")
    assert result.added and result.members == len(RELEASE_COPIES)
    entries = [e for e in store.bank_entries() if e.bank == "new-releases"]
    assert len(entries) == 1 and entries[0].entry_id == result.entry_id
    assert list_clusters(store)[0].banked_bank == "new-releases"
    assert not bank_cluster(store, release.cluster_id, "new-releases").added  # banking twice adds nothing

    verdicts = scan(store, tmp_path, items)  # the same posts, scanned again
    release_ids = {i.item_id for i in items if i.text in RELEASE_COPIES}
    assert {verdicts[i] for i in release_ids} == {"match"}
    recompute_clusters(store)
    assert list_clusters(store) == []


def test_migration_chain_from_empty_db(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    tables = set(inspect(store.engine).get_table_names())
    assert {"clusters", "cluster_members", "items", "banks"} <= tables
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        chain = [r.revision for r in _scripts().iterate_revisions(current, "base")]
        assert current == _scripts().get_current_head() and "0003" in chain
        assert _scripts().get_revision("0003").down_revision == "0002"
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = {ClusterRow.__tablename__, ClusterMemberRow.__tablename__}
    assert [d for d in diffs if mine & {getattr(x, "name", None) for x in _tables_in(d)}] == []
    store.close()


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(resources.files("posbon.store") / "migrations"))
    return ScriptDirectory.from_config(config)


def _tables_in(diff: object) -> list[object]:
    """The table objects an alembic diff tuple mentions (column and index diffs name their table)."""
    found: list[object] = []
    stack = [diff]
    while stack:
        d = stack.pop()
        if isinstance(d, (list, tuple)):
            stack.extend(d)
        elif hasattr(d, "table"):
            found.append(d.table)
        elif type(d).__name__ == "Table":
            found.append(d)
    return found


def test_cli_lists_json_and_banks(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from posbon.cli import app, state
    from posbon.cli_text import register

    scan(store, tmp_path, corpus())
    store.create_bank("new-releases")
    store.close()
    if "clusters" not in {g.name for g in app.registered_groups}:
        register(app, state)
    monkeypatch.setenv("POSBON_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(app, ["clusters", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [c["size"] for c in listed] == [len(RELEASE_COPIES)]
    assert "author" not in result.stdout
    result = runner.invoke(app, ["clusters", "--min-sources", "1"])
    assert result.exit_code == 0 and "2 with >= 3 items from >= 1 sources" in result.stderr
    assert "Bank one with" in result.stdout
    result = runner.invoke(app, ["clusters", "--min-sources", "1", "--json"])
    assert sorted(sum(c["sources"].values()) for c in json.loads(result.stdout)) == [4, 5]
    result = runner.invoke(app, ["clusters", "bank", listed[0]["cluster_id"], "new-releases"])
    assert result.exit_code == 0, result.output
    assert "banked in 'new-releases'" in result.stdout
    result = runner.invoke(app, ["clusters", "bank", "nope", "new-releases"])
    assert result.exit_code == 2 and "no cluster" in result.stderr
    assert isinstance(app, typer.Typer)

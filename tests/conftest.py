from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pg_support import (  # noqa: E402,F401 - shared with test_postgres.py
    PG_ENABLED,
    PG_SERVER,
    pg_admin_execute,
    pg_create_database,
    pg_drop_database,
    pg_url,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pg: runs only with POSBON_TEST_PG=1 (needs PostgreSQL)")


# Tests that read or write the SQLite file itself (sqlite3 module, migrating an old SQLite file): they check
# SQLite, not the store's behaviour, so a PostgreSQL run deselects them (reported as deselected, not passed).
SQLITE_FILE_TESTS = {
    "tests/test_scan_cli.py::test_rescan_stores_nothing_twice",
    "tests/test_scan_cli.py::test_bad_input_is_reported_per_line_and_the_rest_goes_in",
    "tests/test_scan_cli.py::test_killed_scan_resumes_without_duplicates",
    "tests/test_bank_controls.py::test_migration_0002_upgrades_a_0001_database_with_data",
    "tests/test_review_accounts.py::test_users_and_passwords",
    "tests/test_audit.py::test_edited_detail_is_caught",
    "tests/test_audit.py::test_edited_actor_is_caught",
    "tests/test_audit.py::test_deleted_record_is_caught",
    "tests/test_audit.py::test_deleted_newest_record_is_caught",
    "tests/test_audit.py::test_reordered_records_are_caught",
    "tests/test_audit.py::test_recomputed_hash_still_breaks_the_chain",
    # compares two stores (a scan's and a worker's); a PostgreSQL run has one database per test
    "tests/test_worker.py::test_enqueue_then_worker_stores_what_an_in_process_scan_stores",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_ENABLED:
        sqlite_only = [item for item in items if item.nodeid in SQLITE_FILE_TESTS]
        if sqlite_only:
            config.hook.pytest_deselected(items=sqlite_only)
            items[:] = [item for item in items if item.nodeid not in SQLITE_FILE_TESTS]
        return
    # PostgreSQL-only tests (concurrency of the production store) are not collected into a SQLite run;
    # they are deselected, never skipped, so a SQLite run does not report them as passed or skipped.
    kept = [item for item in items if item.get_closest_marker("pg") is None]
    deselected = [item for item in items if item.get_closest_marker("pg") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A database migrated to head once per session (PostgreSQL runs only), the template of each test's."""
    if not PG_ENABLED:
        yield None
        return
    from posbon.store import Store

    name = pg_create_database()
    Store.open(pg_url(name)).close()  # also proves the migrations run on an empty PostgreSQL database
    yield name
    pg_drop_database(name)


@pytest.fixture
def pg_database(pg_template: str | None) -> Iterator[Callable[[], str]]:
    """A factory of fresh, migrated PostgreSQL databases (URLs), all dropped when the test ends."""
    created: list[str] = []

    def make() -> str:
        name = pg_create_database(pg_template)
        created.append(name)
        return pg_url(name)

    yield make
    for name in created:
        pg_drop_database(name)


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Every test gets its own data dir and never touches the user's, nor a database from the environment."""
    monkeypatch.setenv("POSBON_DATA_DIR", str(tmp_path / "posbon-data"))
    monkeypatch.delenv("POSBON_DATABASE_URL", raising=False)
    monkeypatch.delenv("POSBON_PSEUDONYM_KEY", raising=False)
    if PG_ENABLED:
        make: Callable[[], str] = request.getfixturevalue("pg_database")
        url = make()
        monkeypatch.setenv("POSBON_DATABASE_URL", url)
        _redirect_sqlite_files(monkeypatch, url)
    yield


def _redirect_sqlite_files(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Any SQLite file the test opens is this test's PostgreSQL database (a test uses one database)."""
    from posbon.store import db

    original: Any = db.Store.open.__func__  # type: ignore[attr-defined]

    def open_on_pg(cls: type[db.Store], url: str) -> db.Store:
        if url.startswith("sqlite:///") and url.removeprefix("sqlite:///") not in ("", ":memory:"):
            url = database_url
        return original(cls, url)

    monkeypatch.setattr(db.Store, "open", classmethod(open_on_pg))

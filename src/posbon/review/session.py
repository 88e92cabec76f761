"""One write transaction for the review services: everything a service changes, and its audit record,
commit together or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from posbon.store import Store


class ReviewError(Exception):
    """Something a user asked for that the rules do not allow, or that does not exist (one line)."""


@contextmanager
def write_session(store: Store) -> Iterator[Session]:
    """A session whose transaction holds the database's write lock from its first statement.

    On SQLite a deferred transaction that read before writing fails when another writer committed in
    between; BEGIN IMMEDIATE takes the write lock first (waiting up to busy_timeout), so concurrent
    reviewers queue up instead of failing, and the audit chain head read inside is the newest one.
    On PostgreSQL the audit append locks the chain-head row (SELECT ... FOR UPDATE) instead.
    """
    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        session = Session(bind=connection, expire_on_commit=False, autoflush=True)
        try:
            yield session
            session.flush()
            session.expunge_all()
            connection.commit()
        except BaseException:
            session.close()
            connection.rollback()
            raise
        finally:
            session.close()


def aware(value: datetime | None) -> datetime | None:
    """A stored timestamp as timezone-aware UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)

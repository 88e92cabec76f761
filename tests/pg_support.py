"""PostgreSQL helpers for the tests (a module of its own: tests/browser has a conftest too, so
`from conftest import ...` would be ambiguous)."""

from __future__ import annotations

import os
import secrets

# POSBON_TEST_PG=1: the same tests run against PostgreSQL. Every test gets a FRESH database, copied from a
# template that the session migrated once (CREATE DATABASE ... TEMPLATE is a file copy: ~0.1 s, where
# running the migrations again would cost ~1 s per test). Tests see it through POSBON_DATABASE_URL, and any
# `Store.open("sqlite:///FILE")` in the test process is sent to that same database.
PG_ENABLED = os.environ.get("POSBON_TEST_PG") == "1"
PG_SERVER = os.environ.get("POSBON_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432")


def pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def pg_admin_execute(sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE cannot run in a transaction) on the `postgres` database."""
    import psycopg

    conninfo = pg_url("postgres").replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)  # names are generated here, never user input


def pg_create_database(template: str | None = None) -> str:
    name = f"posbon_test_{secrets.token_hex(6)}"
    pg_admin_execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return name


def pg_drop_database(name: str) -> None:
    pg_admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

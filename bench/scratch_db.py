"""A throwaway PostgreSQL database for a benchmark run: `--database-url` names one that must not exist;
the bench creates it and drops it at the end (bench/soak_worker.py, bench/propagation.py)."""

from __future__ import annotations

import argparse
import re

from sqlalchemy.engine import make_url

DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # checked before the name goes into CREATE/DROP DATABASE


def _admin(url: str, sql: str) -> None:
    import psycopg

    admin = make_url(url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql)


def create(parser: argparse.ArgumentParser, database_url: str) -> None:
    """Create the database `database_url` names; a bad URL or a failure is one line, not a traceback."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgresql") or not DB_NAME.fullmatch(url.database or ""):
        parser.error("--database-url: a postgresql+psycopg://... URL whose database is a plain new name")
    try:
        _admin(database_url, f"CREATE DATABASE {url.database}")
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SystemExit(f"--database-url: cannot create database {url.database!r}: {first}") from exc


def drop(database_url: str) -> None:
    _admin(database_url, f"DROP DATABASE IF EXISTS {make_url(database_url).database} WITH (FORCE)")

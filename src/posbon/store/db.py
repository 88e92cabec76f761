"""Store: opens the database, brings its schema to the newest migration, and reads/writes posbon's records."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from posbon.domain import BankEntry, Problem, SignalType
from posbon.store.models import BankEntryRow, BankRow, ItemRow, ScanProblemRow, ScanRow, utcnow


class StoreError(Exception):
    """A database problem a user can act on (one line)."""


class EntrySpec(Protocol):
    """What `Store.add_entries` needs of a new bank entry (posbon.match.banklist.NewEntry fits)."""

    @property
    def signal_type(self) -> SignalType: ...
    @property
    def value(self) -> str: ...
    @property
    def label(self) -> str | None: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def original_text(self) -> str | None: ...
    @property
    def origin(self) -> str: ...


@dataclass(frozen=True)
class BankSummary:
    name: str
    description: str
    entries: dict[str, int]  # per signal type
    created_at: datetime


def value_digest(signal_type: str, value: str) -> str:
    return hashlib.sha256(f"{signal_type}:{value}".encode()).hexdigest()


def _migrations_dir() -> str:
    return str(resources.files("posbon.store") / "migrations")


class Store:
    """posbon's database. `Store.open(url)` migrates the schema to head before returning."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        if url.startswith("sqlite:///"):
            db_path = Path(url.removeprefix("sqlite:///"))
            if str(db_path) not in ("", ":memory:"):
                db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_engine(url, future=True)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise StoreError(f"cannot use database URL {_redact(url)}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        store.migrate()
        return store

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", _migrations_dir())
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open database {_redact(str(self.engine.url))}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back (nothing changed) if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    # ---- banks -------------------------------------------------------------------------------------

    def create_bank(self, name: str, description: str = "") -> bool:
        """Create a bank; False if it already exists."""
        name = name.strip()
        if not name:
            raise StoreError("a bank needs a name")
        with self.session() as s:
            if s.scalar(select(BankRow.id).where(BankRow.name == name)) is not None:
                return False
            s.add(BankRow(name=name, description=description))
        return True

    def bank_id(self, name: str) -> int:
        with self.session() as s:
            bank_id = s.scalar(select(BankRow.id).where(BankRow.name == name))
        if bank_id is None:
            raise StoreError(f"no bank named {name!r}: create it with `posbon bank create {name}`")
        return bank_id

    def add_entries(self, bank: str, entries: Iterable[EntrySpec]) -> tuple[int, int]:
        """Add entries to a bank in one transaction. Returns (added, already present)."""
        bank_id = self.bank_id(bank)
        added = existing = 0
        with self.session() as s:
            seen: set[str] = set()
            for entry in entries:
                digest = value_digest(str(entry.signal_type), entry.value)
                if digest in seen:
                    existing += 1
                    continue
                seen.add(digest)
                found = s.scalar(
                    select(BankEntryRow.id).where(
                        BankEntryRow.bank_id == bank_id, BankEntryRow.value_digest == digest
                    )
                )
                if found is not None:
                    existing += 1
                    continue
                s.add(
                    BankEntryRow(
                        bank_id=bank_id,
                        signal_type=str(entry.signal_type),
                        value=entry.value,
                        value_digest=digest,
                        label=entry.label,
                        original_text=entry.original_text,
                        extra=dict(entry.metadata),
                        origin=entry.origin,
                    )
                )
                added += 1
        return added, existing

    def list_banks(self) -> list[BankSummary]:
        with self.session() as s:
            banks = s.scalars(select(BankRow).order_by(BankRow.name)).all()
            counts = s.execute(
                select(BankEntryRow.bank_id, BankEntryRow.signal_type, func.count())
                .where(BankEntryRow.enabled.is_(True))
                .group_by(BankEntryRow.bank_id, BankEntryRow.signal_type)
            ).all()
        per_bank: dict[int, dict[str, int]] = {}
        for bank_id, signal_type, count in counts:
            per_bank.setdefault(bank_id, {})[signal_type] = count
        return [BankSummary(b.name, b.description, per_bank.get(b.id, {}), b.created_at) for b in banks]

    def bank_entries(self) -> list[BankEntry]:
        """Every enabled entry of every bank, as the matcher sees them."""
        with self.session() as s:
            rows = s.execute(
                select(
                    BankEntryRow.id,
                    BankRow.name,
                    BankEntryRow.signal_type,
                    BankEntryRow.value,
                    BankEntryRow.label,
                    BankEntryRow.original_text,
                )
                .join(BankRow, BankRow.id == BankEntryRow.bank_id)
                .where(BankEntryRow.enabled.is_(True))
                .order_by(BankEntryRow.id)
            ).all()
        return [
            BankEntry(
                entry_id=r[0],
                bank=r[1],
                signal_type=SignalType(r[2]),
                value=r[3],
                label=r[4],
                original_text=r[5],
            )
            for r in rows
        ]

    # ---- scans -------------------------------------------------------------------------------------

    def start_scan(self, inputs: Sequence[str]) -> int:
        with self.session() as s:
            row = ScanRow(inputs=list(inputs), status="running")
            s.add(row)
            s.flush()
            return row.id

    def finish_scan(self, scan_id: int, status: str, seen: int, new: int, problems: int) -> None:
        with self.session() as s:
            s.execute(
                update(ScanRow)
                .where(ScanRow.id == scan_id)
                .values(
                    status=status, finished_at=utcnow(), items_seen=seen, items_new=new, problems=problems
                )
            )

    def record_problems(self, scan_id: int, problems: Iterable[Problem]) -> None:
        with self.session() as s:
            for p in problems:
                s.add(ScanProblemRow(scan_id=scan_id, file=p.file, line=p.line, message=p.message))

    # ---- items -------------------------------------------------------------------------------------

    def save_items(self, scan_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or update assessed items in one transaction. Returns how many were new.

        Keyed by item_id (stable for source and external id), so a rescan stores nothing twice: it
        refreshes the assessment (banks may have changed) and keeps first-seen facts.
        """
        if not rows:
            return 0
        ids = [r["item_id"] for r in rows]
        with self.session() as s:
            known = set(s.scalars(select(ItemRow.item_id).where(ItemRow.item_id.in_(ids))).all())
            now = utcnow()
            values = [
                {**r, "first_scan_id": scan_id, "last_scan_id": scan_id, "assessed_at": now} for r in rows
            ]
            insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(ItemRow)
            refreshed = {
                name: stmt.excluded[name]
                for name in (
                    "text",
                    "created_at",
                    "author",
                    "url",
                    "media",
                    "links",
                    "language",
                    "language_confidence",
                    "verdict",
                    "risk",
                    "evidence",
                    "last_scan_id",
                    "assessed_at",
                )
            }
            # executemany over one compiled statement (a multi-VALUES statement is recompiled every batch)
            s.execute(stmt.on_conflict_do_update(index_elements=["item_id"], set_=refreshed), values)
        return len(set(ids) - known)

    def items(self, *, scan_id: int | None = None, item_ids: Sequence[str] | None = None) -> list[ItemRow]:
        query = select(ItemRow).order_by(ItemRow.risk.desc(), ItemRow.created_at, ItemRow.item_id)
        if scan_id is not None:
            query = query.where(ItemRow.last_scan_id == scan_id)
        if item_ids is not None:
            query = query.where(ItemRow.item_id.in_(list(item_ids)))
        with self.session() as s:
            return list(s.scalars(query).all())

    def count_items(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(ItemRow)) or 0)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _redact(url: str) -> str:
    """Database URLs may carry a password: never print it."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL we cannot even parse is shown as a placeholder
        return "<unparsable URL>"

"""Store: opens the database, brings its schema to the newest migration, and reads/writes posbon's records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from posbon.domain import BankEntry, Problem, SignalType
from posbon.store.changelog_models import OP_ADD, OP_SETTINGS, BankChangeRow
from posbon.store.models import (
    BankEntryRow,
    BankRow,
    ExchangeCheckpointRow,
    ItemRow,
    ScanProblemRow,
    ScanRow,
    utcnow,
)

if TYPE_CHECKING:
    from posbon.match.matcher import BankSettings

BANK_KINDS = ("block", "allow")

# add_entries takes the bulk path (_add_entries_bulk) from this many entries on; fewer go through the ORM
_BULK_MIN = 1_000
# attempts of an ORM-path add that lost a race with another writer adding the same entry
_ADD_ATTEMPTS = 3
# entries staged per executemany (SQLite) or COPY (PostgreSQL) round
_BULK_STAGE_ROWS = 50_000
# A bulk add logs one "add" change row per added or restored entry up to this many; above it, one
# "settings" row for the bank, which makes matchers rebuild. A matcher that reads more than its
# rebuild_backlog (posbon.match.service.DEFAULT_REBUILD_BACKLOG, 20 000) change rows in one poll rebuilds
# anyway, so per-entry rows above it would only cost time and grow bank_changes by a row per entry
# (measured, 1M random PDQ hashes into a fresh bank on a shared 2-core machine: SQLite 13 s -> 30 s,
# PostgreSQL 27 s -> 78 s with one "add" row per entry).
_BULK_LOG_LIMIT = 20_000

# Entries of one bulk add, staged on the add's own connection and transaction (docs: _add_entries_bulk).
# Its own MetaData: not part of the schema (posbon.store.models.Base.metadata) or its migrations.
_STAGE = Table(
    "posbon_bulk_entries",
    MetaData(),
    Column("ord", Integer, primary_key=True),  # position in the input: the first of duplicates wins
    Column("signal_type", String(20)),
    Column("value", Text),
    Column("value_digest", String(64)),
    Column("label", Text),
    Column("original_text", Text),
    Column("extra", JSON().with_variant(Text(), "sqlite")),  # JSON text
    Column("origin", Text),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_STAGE_COLUMNS = [c.name for c in _STAGE.columns]


class _Unset:
    """Marks an argument that was not given (None means "clear the value")."""


UNSET: Any = _Unset()


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
    entries: dict[str, int]  # per signal type (enabled, not deleted)
    created_at: datetime
    kind: str = "block"
    pdq_threshold: int | None = None
    text_threshold: float | None = None


@dataclass(frozen=True)
class EntryInfo:
    """One bank entry as `posbon bank entries` shows it."""

    entry_id: int
    bank: str
    signal_type: str
    value: str
    label: str | None
    enabled: bool
    deleted_at: datetime | None
    source: str
    origin: str
    extra: dict[str, Any]


@dataclass(frozen=True)
class ExchangeUpdate:
    """One record fetched from an exchange: add/refresh it, or (deleted) withdraw it from the bank."""

    signal_type: SignalType
    value: str
    label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True)
class FetchResult:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    restored: int = 0


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

    def create_bank(
        self,
        name: str,
        description: str = "",
        *,
        kind: str = "block",
        pdq_threshold: int | None = None,
        text_threshold: float | None = None,
    ) -> bool:
        """Create a bank; False if it already exists (then it is left as it was)."""
        name = name.strip()
        if not name:
            raise StoreError("a bank needs a name")
        _check_bank_settings(kind, pdq_threshold, text_threshold)
        with self.session() as s:
            if s.scalar(select(BankRow.id).where(BankRow.name == name)) is not None:
                return False
            s.add(
                BankRow(
                    name=name,
                    description=description,
                    kind=kind,
                    pdq_threshold=pdq_threshold,
                    text_threshold=text_threshold,
                )
            )
        return True

    def update_bank(
        self,
        name: str,
        *,
        description: str | None = None,
        kind: str | None = None,
        pdq_threshold: int | None = UNSET,
        text_threshold: float | None = UNSET,
    ) -> BankSummary:
        """Change a bank's settings; a threshold of None goes back to the global default."""
        _check_bank_settings(
            kind or "block",
            None if pdq_threshold is UNSET else pdq_threshold,
            None if text_threshold is UNSET else text_threshold,
        )
        with self.session() as s:
            row = s.scalar(select(BankRow).where(BankRow.name == name))
            if row is None:
                raise StoreError(f"no bank named {name!r}: create it with `posbon bank create {name}`")
            if description is not None:
                row.description = description
            if kind is not None:
                row.kind = kind
            if pdq_threshold is not UNSET:
                row.pdq_threshold = pdq_threshold
            if text_threshold is not UNSET:
                row.text_threshold = text_threshold
        return next(b for b in self.list_banks() if b.name == name)

    def bank_settings(self) -> dict[str, BankSettings]:
        """Every bank's kind and own thresholds, for `Matcher(..., banks=...)`."""
        from posbon.match.matcher import BankSettings

        with self.session() as s:
            rows = s.execute(
                select(BankRow.name, BankRow.kind, BankRow.pdq_threshold, BankRow.text_threshold)
            ).all()
        return {
            name: BankSettings(name, kind=kind, pdq_threshold=pdq, text_threshold=text)
            for name, kind, pdq, text in rows
        }

    def bank_id(self, name: str) -> int:
        with self.session() as s:
            bank_id = s.scalar(select(BankRow.id).where(BankRow.name == name))
        if bank_id is None:
            raise StoreError(f"no bank named {name!r}: create it with `posbon bank create {name}`")
        return bank_id

    def add_entries(self, bank: str, entries: Iterable[EntrySpec], *, source: str = "") -> tuple[int, int]:
        """Add entries to a bank in one transaction. Returns (added, already present).

        An entry that was deleted (withdrawn by its exchange) and is added again is restored and counted
        as added. An entry that comes twice in `entries` is counted as present the second time. From
        _BULK_MIN entries on, the entries go in with set-based SQL (_add_entries_bulk: ~1M hashes in
        well under a minute) instead of one ORM object each.
        """
        bank_id = self.bank_id(bank)
        entries = iter(entries)
        head = list(islice(entries, _BULK_MIN))
        if len(head) >= _BULK_MIN and self.engine.dialect.name in ("sqlite", "postgresql"):
            return self._add_entries_bulk(bank, bank_id, chain(head, entries), source)
        pending = list(chain(head, entries))
        for attempt in range(1, _ADD_ATTEMPTS + 1):
            try:
                return self._add_entries_orm(bank_id, pending, source)
            except IntegrityError as exc:
                # Another writer (a second server process, a concurrent request) added one of these
                # entries between this add's SELECT and its INSERT. Everything of this attempt was rolled
                # back, change-log rows included; the next attempt finds that entry and counts it as present.
                if attempt == _ADD_ATTEMPTS or not _is_entry_conflict(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _add_entries_orm(self, bank_id: int, entries: list[EntrySpec], source: str) -> tuple[int, int]:
        """add_entries for small inputs, one ORM object per new entry (its change-log rows come from the
        session events). Raises IntegrityError if a concurrent writer added one of the entries first."""
        added = existing = 0
        with self.session() as s:
            seen: set[str] = set()
            batch: list[tuple[str, EntrySpec]] = []

            def flush() -> None:
                # one SELECT per batch, not per entry: banking a 100k-line hash list stays quick
                nonlocal added, existing
                digests = [d for d, _ in batch]
                known = {
                    row.value_digest: row
                    for row in s.scalars(
                        select(BankEntryRow).where(
                            BankEntryRow.bank_id == bank_id, BankEntryRow.value_digest.in_(digests)
                        )
                    )
                }
                for digest, entry in batch:
                    found = known.get(digest)
                    if found is not None:
                        if found.deleted_at is not None:
                            found.deleted_at = None
                            added += 1
                        else:
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
                            source=source,
                        )
                    )
                    added += 1
                batch.clear()

            for entry in entries:
                digest = value_digest(str(entry.signal_type), entry.value)
                if digest in seen:
                    existing += 1
                    continue
                seen.add(digest)
                batch.append((digest, entry))
                if len(batch) >= 500:
                    flush()
            flush()
        return added, existing

    def _add_entries_bulk(
        self, bank: str, bank_id: int, entries: Iterable[EntrySpec], source: str
    ) -> tuple[int, int]:
        """add_entries for large inputs, in one transaction: Core statements, no ORM objects.

        1. The entries are staged in a temporary table (SQLite: executemany; PostgreSQL + psycopg: COPY,
           about 6x faster than executemany there).
        2. One INSERT ... SELECT ... ON CONFLICT (bank_id, value_digest) DO NOTHING RETURNING id puts in
           those not in the bank yet. NOT EXISTS skips the bank's entries before the insert (re-adding
           1M present hashes on PostgreSQL: 2.4 s instead of 14 s through the conflict check alone); ON
           CONFLICT still catches duplicates within the input (the first by input position goes in). The
           rows go in sorted by value_digest: the unique index is then filled in order instead of at
           random pages (1M PDQ hashes on SQLite: 7 s instead of 23-34 s), so new entries get their ids
           in digest order, not input order.
        3. Only if some entries were not inserted and the bank has deleted entries at all (a cheap
           EXISTS: the UPDATE's 1M-digest IN list alone took 9.7 s on SQLite): one UPDATE ... RETURNING
           id restores the bank's deleted entries among them (counted as added, like the ORM path).
        4. The change log (posbon.store.changelog_models) is written here, on the same connection: the
           session events see no ORM objects or ORM statements (Connection.execute does not go through
           do_orm_execute), so nothing is logged twice. See _log_bulk_changes.
        """
        now = utcnow()
        table = cast(Table, BankEntryRow.__table__)
        total = 0
        with self.session() as s:
            conn = s.connection()
            if conn.dialect.name == "sqlite":
                # pysqlite runs the CREATE before its implicit BEGIN, so a failed bulk add on this
                # (pooled) connection leaves the empty table behind; PostgreSQL drops it at commit/rollback
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_STAGE.name}")
            _STAGE.create(conn)
            batch: list[tuple[Any, ...]] = []
            for entry in entries:
                signal_type = str(entry.signal_type)
                metadata = dict(entry.metadata)
                batch.append(
                    (
                        total,
                        signal_type,
                        entry.value,
                        value_digest(signal_type, entry.value),
                        entry.label,
                        entry.original_text,
                        json.dumps(metadata) if metadata else "{}",
                        entry.origin,
                    )
                )
                total += 1
                if len(batch) >= _BULK_STAGE_ROWS:
                    _stage_entries(conn, batch)
                    batch.clear()
            _stage_entries(conn, batch)

            stage = _STAGE.c
            present = exists().where(table.c.bank_id == bank_id, table.c.value_digest == stage.value_digest)
            rows = (
                select(
                    bindparam("bank_id", bank_id, type_=table.c.bank_id.type),
                    stage.signal_type,
                    stage.value,
                    stage.value_digest,
                    stage.label,
                    stage.original_text,
                    stage.extra,
                    stage.origin,
                    bindparam("enabled", True, type_=table.c.enabled.type),
                    bindparam("created_at", now, type_=table.c.created_at.type),
                    bindparam("source", source, type_=table.c.source.type),
                )
                .where(~present)  # a WHERE also keeps SQLite from reading ON CONFLICT as a join's ON
                .order_by(stage.value_digest, stage.ord)
            )
            columns = [
                "bank_id",
                "signal_type",
                "value",
                "value_digest",
                "label",
                "original_text",
                "extra",
                "origin",
                "enabled",
                "created_at",
                "source",
            ]
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            new_ids = list(
                conn.execute(
                    dialect_insert(table)
                    .from_select(columns, rows)
                    .on_conflict_do_nothing(index_elements=["bank_id", "value_digest"])
                    .returning(table.c.id)
                )
                .scalars()
                .all()
            )
            restored: list[int] = []
            deleted = exists().where(table.c.bank_id == bank_id, table.c.deleted_at.is_not(None))
            if len(new_ids) < total and conn.scalar(select(deleted)):
                restored = list(
                    conn.execute(
                        update(table)
                        .where(
                            table.c.bank_id == bank_id,
                            table.c.deleted_at.is_not(None),
                            table.c.value_digest.in_(select(stage.value_digest)),
                        )
                        .values(deleted_at=None)
                        .returning(table.c.id)
                    )
                    .scalars()
                    .all()
                )
            _STAGE.drop(conn)
            _log_bulk_changes(conn, bank, new_ids + restored, now)
        added = len(new_ids) + len(restored)
        return added, total - added

    def list_banks(self) -> list[BankSummary]:
        with self.session() as s:
            banks = s.scalars(select(BankRow).order_by(BankRow.name)).all()
            counts = s.execute(
                select(BankEntryRow.bank_id, BankEntryRow.signal_type, func.count())
                .where(BankEntryRow.enabled.is_(True), BankEntryRow.deleted_at.is_(None))
                .group_by(BankEntryRow.bank_id, BankEntryRow.signal_type)
            ).all()
        per_bank: dict[int, dict[str, int]] = {}
        for bank_id, signal_type, count in counts:
            per_bank.setdefault(bank_id, {})[signal_type] = count
        return [
            BankSummary(
                b.name,
                b.description,
                per_bank.get(b.id, {}),
                b.created_at,
                kind=b.kind,
                pdq_threshold=b.pdq_threshold,
                text_threshold=b.text_threshold,
            )
            for b in banks
        ]

    def bank_entries(self) -> list[BankEntry]:
        """Every enabled, not deleted entry of every bank, as the matcher sees them."""
        # Streamed in chunks, with one string per bank name and signal type: at a million entries the
        # result rows and a name string per entry held ~300 MB more than the entries themselves.
        names: dict[str, str] = {}
        kinds = {str(k): k for k in SignalType}
        entries: list[BankEntry] = []
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
                .where(BankEntryRow.enabled.is_(True), BankEntryRow.deleted_at.is_(None))
                .order_by(BankEntryRow.id)
                .execution_options(yield_per=10_000)
            )
            for r in rows:
                entries.append(
                    BankEntry(
                        entry_id=r[0],
                        bank=names.setdefault(r[1], r[1]),
                        signal_type=kinds.get(r[2]) or SignalType(r[2]),
                        value=r[3],
                        label=r[4],
                        original_text=r[5],
                    )
                )
        return entries

    def set_entry_enabled(self, entry_id: int, enabled: bool) -> EntryInfo:
        """Disable (never matched, kept) or enable one entry."""
        with self.session() as s:
            row = s.get(BankEntryRow, entry_id)
            if row is None:
                raise StoreError(f"no bank entry with id {entry_id}: see `posbon bank entries BANK`")
            row.enabled = enabled
        return self.entries(entry_ids=[entry_id])[0]

    def entries(
        self,
        bank: str | None = None,
        *,
        limit: int | None = None,
        entry_ids: Sequence[int] | None = None,
        include_deleted: bool = True,
    ) -> list[EntryInfo]:
        """Entries by id, of one bank or all; disabled and deleted ones included (they say so)."""
        query = (
            select(BankEntryRow, BankRow.name)
            .join(BankRow, BankRow.id == BankEntryRow.bank_id)
            .order_by(BankEntryRow.id)
        )
        if bank is not None:
            query = query.where(BankEntryRow.bank_id == self.bank_id(bank))
        if entry_ids is not None:
            query = query.where(BankEntryRow.id.in_(list(entry_ids)))
        if not include_deleted:
            query = query.where(BankEntryRow.deleted_at.is_(None))
        if limit is not None:
            query = query.limit(limit)
        with self.session() as s:
            rows = s.execute(query).all()
        return [
            EntryInfo(
                entry_id=r.id,
                bank=name,
                signal_type=r.signal_type,
                value=r.value,
                label=r.label,
                enabled=r.enabled,
                deleted_at=r.deleted_at,
                source=r.source,
                origin=r.origin,
                extra=dict(r.extra or {}),
            )
            for r, name in rows
        ]

    # ---- exchanges ---------------------------------------------------------------------------------

    def exchange_checkpoint(self, bank: str, exchange: str) -> dict[str, Any] | None:
        """The checkpoint the last successful fetch of this bank from this exchange left, or None."""
        bank_id = self.bank_id(bank)
        with self.session() as s:
            row = s.scalar(
                select(ExchangeCheckpointRow).where(
                    ExchangeCheckpointRow.bank_id == bank_id, ExchangeCheckpointRow.exchange == exchange
                )
            )
            return dict(row.checkpoint) if row is not None else None

    def apply_exchange_fetch(
        self,
        bank: str,
        exchange: str,
        updates: Iterable[ExchangeUpdate],
        checkpoint: dict[str, Any],
        *,
        full_snapshot: bool = False,
    ) -> FetchResult:
        """Apply a fetch and store its checkpoint in ONE transaction: all of it, or (on error) none of it.

        Entries are keyed by (signal type, value) within the bank. A deletion soft-deletes the entry
        (deleted_at), so a reviewer can still see what an old match was against; a later re-add restores
        it. With `full_snapshot` (an exchange that always returns everything, like a file), entries from
        this exchange that the snapshot no longer holds are deleted too.
        """
        bank_id = self.bank_id(bank)
        source = f"exchange:{exchange}"
        added = updated = deleted = restored = 0
        now = utcnow()
        with self.session() as s:
            seen: set[str] = set()
            for update_ in updates:
                digest = value_digest(str(update_.signal_type), update_.value)
                seen.add(digest)
                row = s.scalar(
                    select(BankEntryRow).where(
                        BankEntryRow.bank_id == bank_id, BankEntryRow.value_digest == digest
                    )
                )
                if update_.deleted:
                    if row is not None and row.deleted_at is None:
                        row.deleted_at = now
                        deleted += 1
                    continue
                if row is None:
                    s.add(
                        BankEntryRow(
                            bank_id=bank_id,
                            signal_type=str(update_.signal_type),
                            value=update_.value,
                            value_digest=digest,
                            label=update_.label,
                            extra=dict(update_.extra),
                            origin=exchange,
                            source=source,
                        )
                    )
                    s.flush()  # the same record twice in one fetch finds the first
                    added += 1
                    continue
                if row.deleted_at is not None:
                    row.deleted_at = None
                    restored += 1
                elif row.label != update_.label or row.extra != update_.extra:
                    updated += 1
                row.label = update_.label
                row.extra = dict(update_.extra)
                row.source = source
            if full_snapshot:
                stale = s.scalars(
                    select(BankEntryRow).where(
                        BankEntryRow.bank_id == bank_id,
                        BankEntryRow.source == source,
                        BankEntryRow.deleted_at.is_(None),
                    )
                ).all()
                for row in stale:
                    if row.value_digest not in seen:
                        row.deleted_at = now
                        deleted += 1
            existing = s.scalar(
                select(ExchangeCheckpointRow).where(
                    ExchangeCheckpointRow.bank_id == bank_id, ExchangeCheckpointRow.exchange == exchange
                )
            )
            if existing is None:
                s.add(ExchangeCheckpointRow(bank_id=bank_id, exchange=exchange, checkpoint=checkpoint))
            else:
                existing.checkpoint = dict(checkpoint)
                existing.fetched_at = now
        return FetchResult(added=added, updated=updated, deleted=deleted, restored=restored)

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
                {
                    **{key: _without_nul(value) for key, value in r.items()},
                    "first_scan_id": scan_id,
                    "last_scan_id": scan_id,
                    "assessed_at": now,
                }
                for r in rows
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


def _without_nul(value: Any) -> Any:
    """The value with NUL characters taken out of every string in it. Posts are written by adversaries,
    and PostgreSQL text cannot hold NUL: one such character refused the whole batch of a scan or worker.
    NUL carries nothing a reader sees, so both stores drop it (matching sees the text without it too)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _is_entry_conflict(exc: IntegrityError) -> bool:
    """Whether exc is a violation of bank_entries' unique (bank_id, value_digest), uq_entry_signal:
    PostgreSQL names the constraint, SQLite its columns."""
    message = str(exc.orig)
    return "uq_entry_signal" in message or "bank_entries.value_digest" in message


def _stage_entries(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Put rows (in _STAGE's column order) into the staging table of a bulk add."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        driver: Any = conn.connection.dbapi_connection  # a psycopg.Connection
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {_STAGE.name} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    if conn.dialect.name == "sqlite":
        # the driver's executemany straight away: Core would process every row's parameters in Python
        marks = ", ".join("?" * len(_STAGE_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO {_STAGE.name} VALUES ({marks})", rows)
        return
    conn.execute(insert(_STAGE), [dict(zip(_STAGE_COLUMNS, row, strict=True)) for row in rows])


def _log_bulk_changes(conn: Connection, bank: str, entry_ids: list[int], at: datetime) -> None:
    """The change-log rows of a bulk add, on its connection (so they commit or roll back with it)."""
    if not entry_ids:
        return
    if len(entry_ids) > _BULK_LOG_LIMIT:
        rows = [{"at": at, "bank": bank, "entry_id": None, "op": OP_SETTINGS}]
    else:
        rows = [{"at": at, "bank": bank, "entry_id": i, "op": OP_ADD} for i in entry_ids]
    conn.execute(insert(cast(Table, BankChangeRow.__table__)), rows)


def _check_bank_settings(kind: str, pdq_threshold: int | None, text_threshold: float | None) -> None:
    if kind not in BANK_KINDS:
        raise StoreError(f"bank kind must be one of {', '.join(BANK_KINDS)}, got {kind!r}")
    if pdq_threshold is not None and not 0 <= pdq_threshold <= 256:
        raise StoreError(f"PDQ threshold must be a distance from 0 to 256, got {pdq_threshold}")
    if text_threshold is not None and not 0.0 < text_threshold <= 1.0:
        raise StoreError(f"text threshold must be a similarity above 0 and at most 1, got {text_threshold}")


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

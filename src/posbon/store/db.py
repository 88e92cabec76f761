"""Store: opens the database, brings its schema to the newest migration, and reads/writes posbon's records."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from posbon.domain import BankEntry, Problem, SignalType
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
        as added.
        """
        bank_id = self.bank_id(bank)
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

"""The bank change log: one row per change to a bank or its entries, written in the change's transaction.

Matchers (posbon.match.service.MatchService) read the rows after the last id they applied and update
their in-memory index incrementally instead of rebuilding it (docs/live-index.md).

The rows are written by SQLAlchemy session events, not by each write path, so that every writer is
covered (posbon.store.db, the HMA curation routes, the cluster promotion) and none can forget:
- `after_flush`: each inserted, changed or deleted BankEntryRow gives an "add" (the entry is enabled and
  not deleted) or "remove" row; each inserted, changed or deleted BankRow a "settings" row. The rows are
  inserted on the flush's own connection, so they commit or roll back with the change.
- `do_orm_execute`: a bulk UPDATE/DELETE statement on either table (whose rows are not known) gives a
  "settings" row without a bank, which tells a matcher to rebuild.
Migration 0009 creates the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, event, insert, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from posbon.store.models import BankEntryRow, BankRow, Base, utcnow

OP_ADD = "add"
OP_REMOVE = "remove"
OP_SETTINGS = "settings"


class BankChangeRow(Base):
    __tablename__ = "bank_changes"
    # SQLite: AUTOINCREMENT, so an id is never handed out twice (a matcher's version must only grow)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    bank: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: unknown (bulk statement)
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None for "settings"
    op: Mapped[str] = mapped_column(String(10))  # add | remove | settings


def _entry_op(row: BankEntryRow, deleted: bool) -> str:
    return OP_ADD if not deleted and row.enabled is not False and row.deleted_at is None else OP_REMOVE


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _context: Any) -> None:
    entries: list[tuple[BankEntryRow, str]] = []
    banks: list[BankRow] = []
    for row in session.new:
        if isinstance(row, BankEntryRow):
            entries.append((row, _entry_op(row, False)))
        elif isinstance(row, BankRow):
            banks.append(row)
    for row in session.dirty:
        if isinstance(row, BankEntryRow) and session.is_modified(row):
            entries.append((row, _entry_op(row, False)))
        elif isinstance(row, BankRow) and session.is_modified(row):
            banks.append(row)
    for row in session.deleted:
        if isinstance(row, BankEntryRow):
            entries.append((row, OP_REMOVE))
        elif isinstance(row, BankRow):
            banks.append(row)
    if not entries and not banks:
        return
    connection = session.connection()
    names = {bank.id: bank.name for bank in banks}
    wanted = {row.bank_id for row, _ in entries} - set(names)
    if wanted:
        names.update(connection.execute(select(BankRow.id, BankRow.name).where(BankRow.id.in_(wanted))).all())
    now = utcnow()
    rows = [{"at": now, "bank": names.get(row.bank_id), "entry_id": row.id, "op": op} for row, op in entries]
    rows += [{"at": now, "bank": bank.name, "entry_id": None, "op": OP_SETTINGS} for bank in banks]
    connection.execute(insert(BankChangeRow), rows)


@event.listens_for(Session, "do_orm_execute")
def _record_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is None or mapper.class_ not in (BankRow, BankEntryRow):
        return
    state.session.connection().execute(
        insert(BankChangeRow), [{"at": utcnow(), "bank": None, "entry_id": None, "op": OP_SETTINGS}]
    )

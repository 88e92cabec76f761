"""bank entry ids are never reused on SQLite (AUTOINCREMENT), as on PostgreSQL

An entry id is HMA's bank_content_id: clients cache it and stored evidence names it. Without
AUTOINCREMENT SQLite hands the highest id out again once its row is gone (a deleted bank), so a
cached id pointed at another bank's hash. PostgreSQL's sequence never goes back; nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # batch mode copies the table into a new one created with AUTOINCREMENT; SQLite then starts the
    # sequence at the highest id copied (an id deleted above it before this migration may come back once)
    with op.batch_alter_table(
        "bank_entries", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.alter_column("id", autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("bank_entries", recreate="always") as batch:
        batch.alter_column("id", autoincrement=True)

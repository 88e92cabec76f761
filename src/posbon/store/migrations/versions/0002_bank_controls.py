"""bank controls: per-bank kind and thresholds, soft-deleted entries with a source, exchange checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table (existing rows are copied); PostgreSQL gets plain ALTER TABLE.
    # Non-null columns carry a server default so rows that already exist get a value.
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), server_default="block", nullable=False))
        batch_op.add_column(sa.Column("pdq_threshold", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("text_threshold", sa.Float(), nullable=True))

    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("source", sa.Text(), server_default="", nullable=False))

    op.create_table(
        "exchange_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(length=40), nullable=False),
        sa.Column("checkpoint", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "exchange", name="uq_checkpoint_bank_exchange"),
    )
    with op.batch_alter_table("exchange_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_checkpoints_bank_id"), ["bank_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_checkpoints_bank_id"))
    op.drop_table("exchange_checkpoints")

    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.drop_column("text_threshold")
        batch_op.drop_column("pdq_threshold")
        batch_op.drop_column("kind")

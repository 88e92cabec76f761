"""repeated misuse (DSA Art. 23): warnings and suspensions of pseudonymous authors and notifiers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "misuse_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("step", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decision_ids", sa.JSON(), nullable=False),
        sa.Column("notice_ids", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("policy_id", sa.String(length=60), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("appeal_status", sa.String(length=10), nullable=False),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("appeal_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("misuse_steps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_misuse_steps_subject", ["subject_kind", "subject", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("misuse_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_misuse_steps_subject")
    op.drop_table("misuse_steps")

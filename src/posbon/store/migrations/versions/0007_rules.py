"""enforcement and routing rules: rule versions, rule hits (shadow and live), routed items

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "version", name="uq_rule_version"),
    )
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_versions_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "rule_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("would_act", sa.String(length=120), nullable=False),
        sa.Column("acted", sa.Boolean(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rule_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rule_hits_rule", ["rule_id", "rule_version", "item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rule_hits_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rule_hits_at"), ["at"], unique=False)

    op.create_table(
        "rule_routes",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("priority_boost", sa.Float(), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.item_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    with op.batch_alter_table("rule_routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_routes_queue"), ["queue"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rule_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_routes_queue"))
    op.drop_table("rule_routes")
    with op.batch_alter_table("rule_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_hits_at"))
        batch_op.drop_index(batch_op.f("ix_rule_hits_item_id"))
        batch_op.drop_index("ix_rule_hits_rule")
    op.drop_table("rule_hits")
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_versions_rule_id"))
    op.drop_table("rule_versions")

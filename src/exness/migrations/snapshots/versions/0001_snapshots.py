"""snapshots

Revision ID: snap_0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "snap_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("journal_id", sa.Text, nullable=False),
        sa.Column("journal_ms", sa.BigInteger, nullable=False),
        sa.Column("journal_seq", sa.BigInteger, nullable=False),
        sa.Column("open_orders", JSONB, nullable=False),
        sa.Column("closed_orders", JSONB, nullable=False),
        sa.Column("balances", JSONB, nullable=False),
        sa.Column("state", JSONB, nullable=False),
        sa.Column("open_positions", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # One row per journal position: the state at a journal id is always the same (the engine
    # is deterministic), so a redelivered snapshot is skipped.
    op.create_index("ix_snapshots_journal", "snapshots", ["journal_ms", "journal_seq"], unique=True)


def downgrade() -> None:
    op.drop_table("snapshots")

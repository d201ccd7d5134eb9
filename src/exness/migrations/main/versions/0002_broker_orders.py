"""trades: order types, SL/TP, partial closes, status; trade_closes: one row per close

Revision ID: main_0002
Revises: main_0001
Create Date: 2025-02-01

A `trades` row becomes an order's whole life (SPEC §7): placed (a limit or stop order,
`pending`) or opened at market, then `open` until its last part closes (`closed`), or
`cancelled` before it filled. Each close, part or whole, is a `trade_closes` row whose
primary key is (order_id, margin_before). Existing rows (all market trades, each closed at
most once) become: open rows with `open_margin` = margin; closed rows with `open_margin` 0,
their one close as a `trade_closes` row of the whole margin, reason `liquidation` if
liquidated, else `manual`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "main_0002"
down_revision = "main_0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(20, 2)
PRICE = sa.Numeric(30, 10)
TIMESTAMP = sa.DateTime(timezone=True)
REASONS = "('manual', 'sl', 'tp', 'liquidation')"

# As in adapters/db/models.py (TRADE_STATUS) at this revision.
STATUS = (
    "CASE WHEN closed_at IS NOT NULL THEN"
    " (CASE WHEN opened_at IS NULL THEN 'cancelled' ELSE 'closed' END)"
    " WHEN opened_at IS NOT NULL THEN 'open' ELSE 'pending' END"
)


def upgrade() -> None:
    for name, column_type in (
        ("order_type", sa.Text),
        ("trigger_price", PRICE),
        ("open_margin", MONEY),
        ("stop_loss", PRICE),
        ("take_profit", PRICE),
        ("close_reason", sa.Text),
        ("last_close_margin", MONEY),
        ("opened_at", TIMESTAMP),
    ):
        op.add_column("trades", sa.Column(name, column_type, nullable=True))
    op.add_column(
        "trades",
        sa.Column("levels_version", sa.BigInteger, nullable=False, server_default="0"),
    )
    # A pending order has no open price (nor liquidation price) until it fills.
    op.alter_column("trades", "open_price", nullable=True)
    op.alter_column("trades", "liquidation_price", nullable=True)

    # Every existing row is a market trade, opened when it was created, closed at most once.
    op.execute(
        """
        UPDATE trades SET
            order_type = 'market',
            opened_at = created_at,
            open_margin = CASE WHEN closed_at IS NULL THEN margin ELSE 0 END,
            close_reason = CASE WHEN closed_at IS NULL THEN NULL
                                WHEN liquidated THEN 'liquidation' ELSE 'manual' END,
            last_close_margin = CASE WHEN closed_at IS NULL THEN NULL ELSE margin END
        """
    )
    op.alter_column("trades", "open_margin", nullable=False)
    op.create_check_constraint(
        "trades_order_type_check", "trades", "order_type IN ('market', 'limit', 'stop')"
    )
    op.create_check_constraint("trades_close_reason_check", "trades", f"close_reason IN {REASONS}")
    op.add_column(
        "trades", sa.Column("status", sa.Text, sa.Computed(STATUS, persisted=True), nullable=False)
    )
    # pending orders are few, and a row leaves the index when it fills or is cancelled
    op.create_index(
        "ix_trades_user_pending",
        "trades",
        ["user_id", "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "trade_closes",
        # no foreign key to trades: see adapters/db/models.py (TradeClose)
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("margin_before", MONEY, primary_key=True),
        sa.Column("margin", MONEY, nullable=False),
        sa.Column("close_price", PRICE, nullable=False),
        sa.Column("pnl", MONEY, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(f"reason IN {REASONS}", name="trade_closes_reason_check"),
        sa.CheckConstraint(
            "margin > 0 AND margin <= margin_before", name="trade_closes_margin_check"
        ),
    )
    op.execute(
        """
        INSERT INTO trade_closes (order_id, margin_before, margin, close_price, pnl, reason,
                                  closed_at)
        SELECT order_id, margin, margin, close_price, pnl, close_reason, closed_at
        FROM trades
        WHERE closed_at IS NOT NULL
        """
    )


def downgrade() -> None:
    # The earlier schema has no pending or cancelled orders, and one close per trade: orders
    # that never opened are dropped, partly closed trades keep their realized total.
    op.drop_table("trade_closes")
    op.execute("DELETE FROM trades WHERE opened_at IS NULL")
    op.drop_index("ix_trades_user_pending", table_name="trades")
    op.drop_column("trades", "status")
    op.drop_constraint("trades_close_reason_check", "trades", type_="check")
    op.drop_constraint("trades_order_type_check", "trades", type_="check")
    for name in (
        "order_type",
        "trigger_price",
        "open_margin",
        "stop_loss",
        "take_profit",
        "close_reason",
        "last_close_margin",
        "opened_at",
        "levels_version",
    ):
        op.drop_column("trades", name)
    op.alter_column("trades", "open_price", nullable=False)
    op.alter_column("trades", "liquidation_price", nullable=False)

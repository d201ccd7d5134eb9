"""users, assets (seeded), trades, price_bars

Revision ID: main_0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "main_0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(20, 2)
PRICE = sa.Numeric(30, 10)
TIMESTAMP = sa.DateTime(timezone=True)

# exness.domain.assets.ASSETS as of this revision; a later change is a new migration.
ASSET_ROWS = [
    {
        "symbol": "SOL",
        "name": "Solana",
        "decimals": 6,
        "image_url": "https://assets.coingecko.com/coins/images/4128/large/solana.png",
    },
    {
        "symbol": "ETH",
        "name": "Ethereum",
        "decimals": 6,
        "image_url": "https://assets.coingecko.com/coins/images/279/large/ethereum.png",
    },
    {
        "symbol": "BTC",
        "name": "Bitcoin",
        "decimals": 4,
        "image_url": "https://assets.coingecko.com/coins/images/1/large/bitcoin.png",
    },
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_logged_in", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("email", name="users_email_key"),
    )
    assets = op.create_table(
        "assets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("decimals", sa.Integer, nullable=False),
        sa.Column("image_url", sa.Text, nullable=False),
        sa.UniqueConstraint("symbol", name="assets_symbol_key"),
    )
    op.bulk_insert(assets, ASSET_ROWS)
    op.create_table(
        "trades",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("asset_id", sa.Integer, sa.ForeignKey("assets.id"), nullable=False),
        sa.Column("trade_type", sa.Text, nullable=False),
        sa.Column("margin", MONEY, nullable=False),
        sa.Column("leverage", sa.Integer, nullable=False),
        sa.Column("open_price", PRICE, nullable=False),
        sa.Column("liquidation_price", PRICE, nullable=False),
        sa.Column("close_price", PRICE, nullable=True),
        sa.Column("pnl", MONEY, nullable=True),
        sa.Column("liquidated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("order_id", name="trades_order_id_key"),
        sa.CheckConstraint("trade_type IN ('LONG', 'SHORT')", name="trades_trade_type_check"),
    )
    op.create_index("ix_trades_user_created", "trades", ["user_id", "created_at"])
    op.create_index("ix_trades_asset_created", "trades", ["asset_id", "created_at"])
    op.create_index("ix_trades_user_closed", "trades", ["user_id", "closed_at"])
    op.create_table(
        "price_bars",
        sa.Column("asset_id", sa.Integer, sa.ForeignKey("assets.id"), primary_key=True),
        sa.Column("bucket", TIMESTAMP, primary_key=True),
        sa.Column("open", PRICE, nullable=False),
        sa.Column("high", PRICE, nullable=False),
        sa.Column("low", PRICE, nullable=False),
        sa.Column("close", PRICE, nullable=False),
        sa.Column("ticks", sa.Integer, nullable=False),
        sa.Column("first_ts", sa.BigInteger, nullable=False),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
        sa.Column("last_entry_ms", sa.BigInteger, nullable=False),
        sa.Column("last_entry_seq", sa.BigInteger, nullable=False),
    )
    # Retention deletes by time across assets.
    op.create_index("ix_price_bars_bucket", "price_bars", ["bucket"])


def downgrade() -> None:
    op.drop_table("price_bars")
    op.drop_table("trades")
    op.drop_table("assets")
    op.drop_table("users")

"""Alembic environment of the main database (users, assets, trades, price_bars)."""

from exness.adapters.db.models import Base
from exness.migrations.environment import run

run("alembic_version", Base.metadata)

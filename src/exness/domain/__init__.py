"""The pure trading core: synchronous, deterministic, no I/O (ARCHITECTURE §1, §2).

Nothing in this package may import asyncio, redis, sqlalchemy, fastapi, starlette,
websockets, asyncpg or psycopg; `tests/unit/test_domain_purity.py` enforces it.
"""

from exness.domain.assets import ASSETS, Asset
from exness.domain.engine import Engine, EngineConfig, Ledger
from exness.domain.errors import Rejection
from exness.domain.messages import (
    CloseTrade,
    Command,
    CreateTrade,
    Event,
    GetOpenTrades,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    PriceTick,
    Reply,
    TradeClosed,
    TradeLiquidated,
    TradeOpened,
    UserCreated,
)
from exness.domain.positions import LONG, SHORT, Position

__all__ = [
    "ASSETS",
    "LONG",
    "SHORT",
    "Asset",
    "CloseTrade",
    "Command",
    "CreateTrade",
    "Engine",
    "EngineConfig",
    "Event",
    "GetOpenTrades",
    "GetUsdcBalance",
    "GetUserBalance",
    "InitializeWallet",
    "Ledger",
    "Position",
    "PriceTick",
    "Rejection",
    "Reply",
    "TradeClosed",
    "TradeLiquidated",
    "TradeOpened",
    "UserCreated",
]

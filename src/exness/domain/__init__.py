"""The pure trading core: synchronous, deterministic, no I/O (ARCHITECTURE §1, §2).

Nothing in this package may import asyncio, redis, sqlalchemy, fastapi, starlette,
websockets, asyncpg or psycopg; `tests/unit/test_domain_purity.py` enforces it.
"""

from exness.domain.assets import ASSETS, Asset
from exness.domain.engine import Engine, EngineConfig
from exness.domain.errors import Rejection
from exness.domain.messages import (
    Balance,
    CloseTrade,
    Command,
    CreateTrade,
    Event,
    GetOpenTrades,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    OpenPosition,
    OpenPositions,
    PositionClosed,
    PositionOpened,
    PriceTick,
    Quote,
    Reply,
    Result,
    TradeClosed,
    TradeLiquidated,
    TradeOpened,
    UserCreated,
    WalletOpened,
)
from exness.domain.positions import LONG, SHORT, Position
from exness.domain.state import ClosedOrder, EngineState, Ledger

__all__ = [
    "ASSETS",
    "LONG",
    "SHORT",
    "Asset",
    "Balance",
    "CloseTrade",
    "ClosedOrder",
    "Command",
    "CreateTrade",
    "Engine",
    "EngineConfig",
    "EngineState",
    "Event",
    "GetOpenTrades",
    "GetUsdcBalance",
    "GetUserBalance",
    "InitializeWallet",
    "Ledger",
    "OpenPosition",
    "OpenPositions",
    "Position",
    "PositionClosed",
    "PositionOpened",
    "PriceTick",
    "Quote",
    "Rejection",
    "Reply",
    "Result",
    "TradeClosed",
    "TradeLiquidated",
    "TradeOpened",
    "UserCreated",
    "WalletOpened",
]

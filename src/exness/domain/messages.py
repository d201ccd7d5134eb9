"""The engine's whole vocabulary: commands and price ticks in, events out.

Times are integers in microseconds since the epoch and always come *in* the input (the
engine service stamps a command when it takes it off the queue; a tick carries the feed's
own event time), so applying the same inputs twice gives the same state, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from exness.domain.positions import Position, Side

__all__ = [
    "Balance",
    "CloseTrade",
    "Command",
    "CreateTrade",
    "DbOperation",
    "Event",
    "GetOpenTrades",
    "GetUsdcBalance",
    "GetUserBalance",
    "InitializeWallet",
    "OpenPosition",
    "OpenPositions",
    "PositionClosed",
    "PositionOpened",
    "PriceTick",
    "Quote",
    "Reply",
    "Result",
    "TradeClosed",
    "TradeLiquidated",
    "TradeOpened",
    "UserCreated",
    "WalletOpened",
    "db_operations",
]


# ---- commands -------------------------------------------------------------------------------


@dataclass(slots=True)
class InitializeWallet:
    request_id: str
    user_id: str
    ts: int
    email: str | None = None


@dataclass(slots=True)
class GetUserBalance:
    request_id: str
    user_id: str
    ts: int


@dataclass(slots=True)
class GetUsdcBalance:
    request_id: str
    user_id: str
    ts: int


@dataclass(slots=True)
class GetOpenTrades:
    request_id: str
    user_id: str
    ts: int


@dataclass(slots=True)
class CreateTrade:
    request_id: str
    user_id: str
    order_id: str
    asset: str
    side: Side
    margin: int  # cents
    leverage: int  # 1..100
    slippage_bps: int  # tolerated distance between quote and execution price
    quote: int | None  # the price the trader saw (asset units); None skips the slippage check
    ts: int


@dataclass(slots=True)
class CloseTrade:
    request_id: str
    user_id: str
    order_id: str
    ts: int


Command = (
    InitializeWallet | GetUserBalance | GetUsdcBalance | GetOpenTrades | CreateTrade | CloseTrade
)


@dataclass(slots=True)
class PriceTick:
    asset: str
    price: int  # mid, asset units
    ts: int  # the feed's event time, µs
    bid: int | None = None
    ask: int | None = None


@dataclass(slots=True)
class Quote:
    """The newest price the engine holds for an asset."""

    price: int
    ts: int
    bid: int | None = None
    ask: int | None = None


# ---- replies: what a command answers, typed ---------------------------------------------


@dataclass(frozen=True, slots=True)
class WalletOpened:
    """INITIALIZE_WALLET: the balance, and whether the wallet was created by this command."""

    balance: int  # cents
    created: bool


@dataclass(frozen=True, slots=True)
class Balance:
    """GET_USER_BALANCE and GET_USDC_BALANCE: the free USD balance."""

    balance: int  # cents


@dataclass(frozen=True, slots=True)
class PositionOpened:
    """CREATE_TRADE: the new position and the balance left."""

    position: Position
    balance: int  # cents


@dataclass(frozen=True, slots=True)
class PositionClosed:
    """CLOSE_TRADE: the position as it was, how it closed, and the balance after."""

    position: Position
    close_price: int  # asset units
    pnl: int  # cents, realized
    closed_at: int  # µs
    balance: int  # cents
    liquidated: bool = False


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """An open position with the engine's latest quote of its asset (None before any)."""

    position: Position
    quote: Quote | None

    @property
    def current_price(self) -> int | None:
        return None if self.quote is None else self.quote.price

    @property
    def pnl(self) -> int | None:
        price = self.current_price
        return None if price is None else self.position.pnl_at(price)


@dataclass(frozen=True, slots=True)
class OpenPositions:
    """GET_OPEN_TRADES: the trader's open positions, oldest first."""

    positions: tuple[OpenPosition, ...]


Result = WalletOpened | Balance | PositionOpened | PositionClosed | OpenPositions


@dataclass(slots=True)
class Reply:
    """The answer to one command: a typed `result`, or a rejection `code` and `message`."""

    request_id: str
    result: Result | None = None
    code: str | None = None  # a Rejection's code (exness.domain.errors); None on success
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is None

    @classmethod
    def rejected(cls, request_id: str, code: str, message: str) -> Reply:
        return cls(request_id, None, code, message)


# ---- events: what the DB processor writes ------------------------------------------------


@dataclass(slots=True)
class UserCreated:
    user_id: str
    email: str | None
    balance: int
    created_at: int


@dataclass(slots=True)
class TradeOpened:
    position: Position


@dataclass(slots=True)
class TradeClosed:
    liquidated: ClassVar[bool] = False
    position: Position
    close_price: int
    pnl: int  # realized, cents: the wallet got back margin + pnl (never below 0)
    closed_at: int


@dataclass(slots=True)
class TradeLiquidated(TradeClosed):
    liquidated: ClassVar[bool] = True


DbOperation = UserCreated | TradeOpened | TradeClosed | TradeLiquidated
Event = Reply | DbOperation


def db_operations(events: list[Event]) -> list[DbOperation]:
    """The DB operations among `events` (a command's reply comes first, then those)."""
    return [event for event in events if not isinstance(event, Reply)]

"""The engine's whole vocabulary: commands and price ticks in, replies and events out.

Times are integers in microseconds since the epoch and always come *in* the input (the
engine service stamps a command with its journal entry's time; a tick carries the feed's
own event time), so applying the same inputs twice gives the same state, bit for bit.

Every command carries `ts` (stamped by the engine service) and an optional `deadline` (µs,
the server's): a command the engine takes after its deadline is refused unapplied, so a
client told "timed out" is never surprised by a late application.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from exness.domain.account import Account
from exness.domain.orders import MARKET, OrderType, PendingOrder
from exness.domain.positions import Position, Side
from exness.domain.quotes import Quote

__all__ = [
    "Account",
    "Balance",
    "CancelOrder",
    "Cancelled",
    "CloseReason",
    "CloseTrade",
    "Command",
    "CreateTrade",
    "DbOperation",
    "Event",
    "GetAccount",
    "GetOpenTrades",
    "GetPendingOrders",
    "GetUsdcBalance",
    "GetUserBalance",
    "InitializeWallet",
    "Modified",
    "ModifyTrade",
    "OpenPosition",
    "OpenPositions",
    "OrderCancelled",
    "OrderModified",
    "OrderPlaced",
    "PendingOrders",
    "PendingPlaced",
    "PositionClosed",
    "PositionOpened",
    "PriceTick",
    "Quote",
    "Reply",
    "Result",
    "TradeClosed",
    "TradeOpened",
    "UserCreated",
    "WalletOpened",
    "db_operations",
]


# ---- commands -------------------------------------------------------------------------------
# `ts` and `deadline` are keyword-only, after each command's own fields.


@dataclass(slots=True)
class InitializeWallet:
    request_id: str
    user_id: str
    email: str | None = None
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class GetUserBalance:
    request_id: str
    user_id: str
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class GetUsdcBalance:
    request_id: str
    user_id: str
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class GetOpenTrades:
    request_id: str
    user_id: str
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class GetPendingOrders:
    request_id: str
    user_id: str
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class GetAccount:
    request_id: str
    user_id: str
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class CreateTrade:
    """Open a position at market, or place a limit or stop order (SPEC §4, §7)."""

    request_id: str
    user_id: str
    order_id: str
    asset: str
    side: Side
    margin: int  # cents
    leverage: int  # 1..100
    slippage_bps: int  # tolerated distance between quote and execution price (market only)
    quote: int | None = None  # the price the trader saw (asset units); None skips the check
    order_type: OrderType = MARKET
    trigger_price: int | None = None  # asset units; limit and stop orders only
    stop_loss: int | None = None  # asset units
    take_profit: int | None = None
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class CloseTrade:
    """Close a position at market, whole or (`margin`, cents) in part (SPEC §7.4)."""

    request_id: str
    user_id: str
    order_id: str
    margin: int | None = None  # None: all of it
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class ModifyTrade:
    """Set, clear or keep the stop loss and take profit of a position or pending order."""

    request_id: str
    user_id: str
    order_id: str
    stop_loss: int | None = None  # the new level, or None to clear it ...
    take_profit: int | None = None
    change_stop_loss: bool = False  # ... when its change_ flag says so; else it is kept
    change_take_profit: bool = False
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class CancelOrder:
    """Cancel a pending order; its reserved margin returns to the balance."""

    request_id: str
    user_id: str
    order_id: str
    ts: int = field(default=0, kw_only=True)
    deadline: int | None = field(default=None, kw_only=True)


Command = (
    InitializeWallet
    | GetUserBalance
    | GetUsdcBalance
    | GetOpenTrades
    | GetPendingOrders
    | GetAccount
    | CreateTrade
    | CloseTrade
    | ModifyTrade
    | CancelOrder
)


@dataclass(slots=True)
class PriceTick:
    asset: str
    price: int  # mid, asset units
    ts: int  # the feed's event time, µs
    bid: int | None = None
    ask: int | None = None


# ---- events: what happened to an order (DB operations, and the traders' live events) ------

CloseReason = Literal["manual", "sl", "tp", "liquidation"]


@dataclass(slots=True)
class UserCreated:
    user_id: str
    email: str | None
    balance: int
    created_at: int


@dataclass(slots=True)
class OrderPlaced:
    """A limit or stop order now waits; its margin is reserved."""

    order: PendingOrder


@dataclass(slots=True)
class OrderCancelled:
    order: PendingOrder
    cancelled_at: int


@dataclass(slots=True)
class TradeOpened:
    """A position opened: at market (`filled` False) or by a pending order's trigger."""

    position: Position
    filled: bool = False


@dataclass(slots=True)
class OrderModified:
    """New stop loss / take profit of a position or a pending order (the order as it is now)."""

    order: Position | PendingOrder
    modified_at: int


@dataclass(slots=True)
class TradeClosed:
    """One close of a position, whole or part: `margin` of it closed at `close_price`."""

    position: Position  # as it was just before this close
    margin: int  # cents closed; the rest (position.margin − margin) stays open
    close_price: int
    pnl: int  # realized, cents: the wallet got back margin + pnl (never below 0)
    reason: CloseReason
    closed_at: int

    @property
    def liquidated(self) -> bool:
        return self.reason == "liquidation"

    @property
    def remaining(self) -> int:
        return self.position.margin - self.margin


DbOperation = UserCreated | OrderPlaced | OrderCancelled | TradeOpened | OrderModified | TradeClosed


# ---- replies: what a command answers, typed ---------------------------------------------
# Not frozen (a frozen dataclass costs several times more to build, and one is built per
# command), but never mutated: the engine keeps them to answer redeliveries.


@dataclass(slots=True)
class WalletOpened:
    """INITIALIZE_WALLET: the balance, and whether the wallet was created by this command."""

    balance: int  # cents
    created: bool


@dataclass(slots=True)
class Balance:
    """GET_USER_BALANCE and GET_USDC_BALANCE: the free USD balance."""

    balance: int  # cents


@dataclass(slots=True)
class PositionOpened:
    """CREATE_TRADE at market: the new position and the balance left."""

    position: Position
    balance: int  # cents


@dataclass(slots=True)
class PendingPlaced:
    """CREATE_TRADE of a limit or stop order: the order and the balance left."""

    order: PendingOrder
    balance: int


@dataclass(slots=True)
class PositionClosed:
    """CLOSE_TRADE: the close (whole or part) and the balance after it."""

    close: TradeClosed
    balance: int


@dataclass(slots=True)
class Modified:
    """MODIFY_TRADE: the position or pending order with its new levels."""

    order: Position | PendingOrder


@dataclass(slots=True)
class Cancelled:
    """CANCEL_ORDER: the cancelled order and the balance with its margin back."""

    order: PendingOrder
    balance: int


@dataclass(slots=True)
class OpenPosition:
    """An open position with the engine's latest quote of its asset (None before any)."""

    position: Position
    quote: Quote | None

    @property
    def current_price(self) -> int | None:
        """Where it would close now: the bid for a long, the ask for a short."""
        if self.quote is None:
            return None
        return self.quote.bid if self.position.side == "long" else self.quote.ask

    @property
    def pnl(self) -> int | None:
        price = self.current_price
        return None if price is None else self.position.pnl_at(price)


@dataclass(slots=True)
class OpenPositions:
    """GET_OPEN_TRADES: the trader's open positions, oldest first."""

    positions: tuple[OpenPosition, ...]


@dataclass(slots=True)
class PendingOrders:
    """GET_PENDING_ORDERS: the trader's pending orders, oldest first."""

    orders: tuple[PendingOrder, ...]


Result = (
    WalletOpened
    | Balance
    | PositionOpened
    | PendingPlaced
    | PositionClosed
    | Modified
    | Cancelled
    | OpenPositions
    | PendingOrders
    | Account
)


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


Event = Reply | DbOperation


def db_operations(events: list[Event]) -> list[DbOperation]:
    """The DB operations among `events` (a command's reply comes first, then those)."""
    return [event for event in events if not isinstance(event, Reply)]

"""The engine's whole vocabulary: commands and price ticks in, events out.

Times are integers in microseconds since the epoch and always come *in* the input (the
engine service stamps a command when it takes it off the queue; a tick carries the feed's
own event time), so applying the same inputs twice gives the same state, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from exness.domain.positions import Position, Side

__all__ = [
    "COMMAND_TYPES",
    "CloseTrade",
    "Command",
    "CreateTrade",
    "DbOperation",
    "Event",
    "GetOpenTrades",
    "GetUsdcBalance",
    "GetUserBalance",
    "InitializeWallet",
    "PriceTick",
    "Quote",
    "Reply",
    "TradeClosed",
    "TradeLiquidated",
    "TradeOpened",
    "UserCreated",
]


# ---- commands -------------------------------------------------------------------------------


@dataclass(slots=True)
class InitializeWallet:
    TYPE: ClassVar[str] = "INITIALIZE_WALLET"
    request_id: str
    user_id: str
    ts: int
    email: str | None = None


@dataclass(slots=True)
class GetUserBalance:
    TYPE: ClassVar[str] = "GET_USER_BALANCE"
    request_id: str
    user_id: str
    ts: int


@dataclass(slots=True)
class GetUsdcBalance:
    TYPE: ClassVar[str] = "GET_USDC_BALANCE"
    request_id: str
    user_id: str
    ts: int


@dataclass(slots=True)
class GetOpenTrades:
    TYPE: ClassVar[str] = "GET_OPEN_TRADES"
    request_id: str
    user_id: str
    ts: int


@dataclass(slots=True)
class CreateTrade:
    TYPE: ClassVar[str] = "CREATE_TRADE"
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
    TYPE: ClassVar[str] = "CLOSE_TRADE"
    request_id: str
    user_id: str
    order_id: str
    ts: int


Command = (
    InitializeWallet | GetUserBalance | GetUsdcBalance | GetOpenTrades | CreateTrade | CloseTrade
)
COMMAND_TYPES: dict[str, type[Command]] = {
    cls.TYPE: cls
    for cls in (
        InitializeWallet,
        GetUserBalance,
        GetUsdcBalance,
        GetOpenTrades,
        CreateTrade,
        CloseTrade,
    )
}


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


# ---- events ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Reply:
    """The answer to one command: success with `data`, or a rejection `code` and `message`."""

    request_id: str
    ok: bool
    data: dict[str, Any] | None = None
    code: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.ok:
            return {"requestId": self.request_id, "ok": True, "data": self.data}
        return {
            "requestId": self.request_id,
            "ok": False,
            "code": self.code,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Reply:
        return cls(
            raw["requestId"], raw["ok"], raw.get("data"), raw.get("code"), raw.get("message")
        )


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

"""Request and response models of the HTTP API (SPEC §4), documented in /openapi.json.

Units: request amounts and balances are integers in minor units (margin in cents,
slippage in basis points, a quoted price in the asset's units: SOL/ETH 6 decimals, BTC 4).
Trade records (open trades, history, close answers) show prices and USD amounts as exact
decimal numbers in human units (`201.47`, pnl `-12.5`), as the seed's clients expect.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

Asset = Literal["SOL", "ETH", "BTC"]
TradeType = Literal["long", "short"]
# An exact decimal, written as a JSON number in human units.
Human = Annotated[Decimal, WithJsonSchema({"type": "number", "description": "exact decimal"})]

MAX_MARGIN_CENTS = 10**12
MAX_PRICE_UNITS = 10**15  # beyond any real price; larger integers do not fit the engine's codec


class Strict(BaseModel):
    # Strict: "10" and 10.5 are not the integer 10, and true is not 1.
    model_config = ConfigDict(strict=True, extra="ignore")


class EmailBody(Strict):
    email: EmailStr = Field(description="where the sign-in link is sent")


OrderKind = Literal["market", "limit", "stop"]
PriceUnits = Annotated[
    int, Field(gt=0, le=MAX_PRICE_UNITS, description="a price in the asset's units")
]
# Ids travel to the engine and, in its replies, to the database, where a NUL is refused:
# no control characters.
OrderId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_order", message)


class TradeCreateBody(Strict):
    """A market order (`orderType` "market", the default) opens at once at the ask (long) or
    the bid (short); a limit or stop order waits for `triggerPrice` with its margin reserved
    (SPEC §7.3). Prices are integers in the asset's units (SOL/ETH 6 decimals, BTC 4)."""

    asset: Asset
    type: TradeType
    margin: int = Field(gt=0, le=MAX_MARGIN_CENTS, description="cents taken from the balance")
    leverage: int = Field(ge=1, le=100, description="1x to 100x")
    orderType: OrderKind = Field(
        "market", description="market (default), limit or stop (needs triggerPrice)"
    )
    slippage: int | None = Field(
        None,
        ge=10,
        le=10_000,
        description="basis points the execution price may differ from the quote; required for "
        "a market order, optional (and unused: the trigger is the price) for limit and stop",
    )
    price: int | None = Field(
        None,
        gt=0,
        le=MAX_PRICE_UNITS,
        description="optional quote in the asset's units for the slippage check; by default the "
        "ask (long) or bid (short) the server holds when the request arrives",
    )
    triggerPrice: PriceUnits | None = Field(
        None,
        description="limit and stop orders: a long limit fills when the ask falls to it, a long "
        "stop when the ask rises to it, a short limit when the bid rises to it, a short stop "
        "when the bid falls to it",
    )
    stopLoss: PriceUnits | None = Field(
        None, description="closes the position when the bid (long) / ask (short) reaches it"
    )
    takeProfit: PriceUnits | None = Field(
        None, description="closes the position when the bid (long) / ask (short) reaches it"
    )

    @model_validator(mode="after")
    def _fits_order_type(self) -> TradeCreateBody:
        if self.orderType == "market":
            if self.slippage is None:
                raise _invalid("slippage is required for a market order (10 to 10000 bps)")
            if self.triggerPrice is not None:
                raise _invalid("triggerPrice is for limit and stop orders only")
        elif self.triggerPrice is None:
            raise _invalid(f"triggerPrice is required for a {self.orderType} order")
        return self


class TradeCloseBody(Strict):
    orderId: OrderId
    margin: int | None = Field(
        None,
        gt=0,
        le=MAX_MARGIN_CENTS,
        description="cents of the position's margin to close (at most all of it); the rest stays "
        "open with the same entry, leverage and liquidation price. Absent: close it all",
    )


class TradeModifyBody(Strict):
    """Set (an integer), clear (`null`) or keep (absent) the stop loss and take profit of an
    open position or a pending order. Valid levels: long — liquidation price < stopLoss <
    bid < takeProfit; short — takeProfit < ask < stopLoss < liquidation price (for a pending
    order the trigger price stands for the bid/ask)."""

    orderId: OrderId
    stopLoss: PriceUnits | None = Field(None, description="asset units; null clears it")
    takeProfit: PriceUnits | None = Field(None, description="asset units; null clears it")

    @model_validator(mode="after")
    def _changes_something(self) -> TradeModifyBody:
        if not {"stopLoss", "takeProfit"} & self.model_fields_set:
            raise _invalid("give stopLoss and/or takeProfit: an integer sets it, null clears it")
        return self


class OrderCancelBody(Strict):
    orderId: OrderId


class Message(BaseModel):
    message: str


class Failure(BaseModel):
    success: Literal[False] = False
    message: str
    code: str | None = None


CloseReason = Literal["manual", "sl", "tp", "liquidation"]


class PositionView(BaseModel):
    """A position as every trade answer shows it (create, open trades, close, modify)."""

    orderId: str
    asset: Asset
    type: TradeType
    margin: Human = Field(description="USD")
    leverage: int
    openPrice: Human = Field(description="human units")
    liquidationPrice: Human = Field(description="human units: liquidated at or beyond it")
    stopLoss: Human | None = Field(description="human units; null: none")
    takeProfit: Human | None = Field(description="human units; null: none")
    createdAt: str = Field(description="when it opened, ISO 8601 UTC")


class TradeCreated(PositionView):
    """A market order's answer: the position it opened."""

    orderType: Literal["market"] = "market"
    status: Literal["open"] = "open"
    balance: int = Field(description="cents left in the wallet")


class OrderView(BaseModel):
    """A limit or stop order waiting for its trigger (SPEC §7.3)."""

    orderId: str
    asset: Asset
    type: TradeType
    orderType: Literal["limit", "stop"]
    triggerPrice: Human = Field(description="human units")
    margin: Human = Field(description="USD, reserved from the balance until it fills")
    leverage: int
    stopLoss: Human | None = Field(description="attached to the position when it fills")
    takeProfit: Human | None = Field(description="attached to the position when it fills")
    createdAt: str = Field(description="when it was placed, ISO 8601 UTC")


class OrderPlaced(OrderView):
    """A limit or stop order's answer: the order, waiting."""

    status: Literal["pending"] = "pending"
    balance: int = Field(description="cents left in the wallet (the margin is reserved)")


class PendingOrders(BaseModel):
    orders: list[OrderView]


class OrderCancelled(OrderView):
    status: Literal["cancelled"] = "cancelled"
    balance: int = Field(description="cents in the wallet, the reserved margin back")


class ModifiedPosition(PositionView):
    """An open position with its new stop loss and take profit."""

    status: Literal["open"] = "open"


class ModifiedOrder(OrderView):
    """A pending order with its new stop loss and take profit."""

    status: Literal["pending"] = "pending"


class TradeClosedAnswer(PositionView):
    """One close, whole or part; `margin` is the position's margin before it."""

    closedMargin: Human = Field(description="USD of margin closed by this close")
    remainingMargin: Human = Field(description="USD still open (0 once it is all closed)")
    status: Literal["open", "closed"] = Field(description="open while margin remains")
    closePrice: Human = Field(description="human units: the bid (long) or ask (short)")
    pnl: Human = Field(description="USD, realized by this close")
    closeReason: CloseReason
    liquidated: bool
    closedAt: str = Field(description="ISO 8601 UTC")
    balance: int = Field(description="cents in the wallet after the close")


class OpenTrade(PositionView):
    currentPrice: Human | None = Field(
        description="where it would close now: the bid (long) or ask (short), human units"
    )
    pnl: Human | None = Field(description="USD if closed at currentPrice")


class OpenTrades(BaseModel):
    trades: list[OpenTrade]


class AccountAnswer(BaseModel):
    """SPEC §7.6, live from the engine; amounts in cents."""

    balance: int = Field(description="free cents")
    reserved: int = Field(description="cents held by pending orders")
    usedMargin: int = Field(description="cents in open positions")
    unrealizedPnl: int = Field(
        description="cents at the current bid/ask, each position's loss capped at its margin"
    )
    equity: int = Field(description="balance + reserved + usedMargin + unrealizedPnl")
    marginLevel: Human | None = Field(
        description="equity ÷ usedMargin × 100, 2 decimals half-to-even; null with no position"
    )
    openPositions: int
    pendingOrders: int


class QuoteView(BaseModel):
    asset: Asset
    bid: Human | None = Field(description="human units; what a long closes and a short opens at")
    ask: Human | None = Field(description="human units; what a long opens and a short closes at")
    price: Human | None = Field(description="the mid, human units")
    ts: int | None = Field(description="the feed's event time, µs since the epoch")


class Quotes(BaseModel):
    quotes: list[QuoteView] = Field(
        description="every asset; bid, ask, price and ts are null until its first price"
    )


TradeStatus = Literal["pending", "open", "closed", "cancelled"]


class HistoryTrade(BaseModel):
    """A trade (or a limit/stop order) as the history and the statement show it: our fields,
    and those the seed's web client reads (`id`, `tradeType`, `assetName`, `assetImage`,
    `isProfitable`, `pnlPercentage`, `duration`, `durationInSeconds`; SPEC §4). The field
    order is the statement's (CSV) column order."""

    id: str = Field(
        description="the trade's row id (digits; a string, as the seed's client has it)"
    )
    orderId: str
    asset: Asset
    assetName: str = Field(description="e.g. Solana")
    assetImage: str = Field(description="URL of the asset's logo")
    type: TradeType
    tradeType: TradeType = Field(description="the same as type")
    orderType: OrderKind | None = Field(
        description="market, or the limit/stop order it came from (null only for the moment "
        "a fill is written before its placement)"
    )
    status: TradeStatus = Field(
        description="pending (a limit/stop order waiting), open (until its last part closes), "
        "closed (settled, by the trader, SL/TP or liquidation: see closeReason), cancelled "
        "(before it filled)"
    )
    margin: Human = Field(description="USD, as placed or opened")
    openMargin: Human = Field(
        description="USD still held: reserved while pending, open while open (less after a "
        "partial close), 0 once closed or cancelled"
    )
    leverage: int
    triggerPrice: Human | None = Field(description="a limit/stop order's trigger")
    openPrice: Human | None = Field(description="null while pending")
    closePrice: Human | None = Field(
        description="that of the last close (part or whole): the tick's bid for a long, ask "
        "for a short, when SL, TP or liquidation closed it"
    )
    liquidationPrice: Human | None
    stopLoss: Human | None
    takeProfit: Human | None
    pnl: Human | None = Field(description="USD, realized: the total of its closes so far")
    pnlPercentage: Human | None = Field(
        description="pnl ÷ margin × 100, 2 decimals, half-to-even; null until closed"
    )
    isProfitable: bool = Field(description="pnl > 0 (false before any close)")
    liquidated: bool
    closeReason: CloseReason | None = Field(description="that of its last close")
    createdAt: str = Field(description="placed (or opened at market), ISO 8601 UTC")
    openedAt: str | None = Field(description="opened or filled, ISO 8601 UTC")
    closedAt: str | None = Field(description="its last part closed, or it was cancelled")
    duration: str = Field(
        description="whole units from its open (its placement if it never filled), up to now "
        'while pending or open, to the close or cancellation after: "45s", "12m", "3h 5m", '
        '"2d 4h"'
    )
    durationInSeconds: int = Field(description="the same, in whole seconds")


HISTORY_FIELDS = tuple(HistoryTrade.model_fields)  # the statement's header


class CloseReasons(BaseModel):
    manual: int
    sl: int
    tp: int
    liquidation: int


class HistoryAnalytics(BaseModel):
    """Over every row the filter matches (not only the page)."""

    totalTrades: int = Field(description="rows matched (pending and cancelled orders included)")
    openTrades: int
    closedTrades: int = Field(description="settled and not liquidated")
    liquidatedTrades: int
    pendingOrders: int
    cancelledOrders: int
    profitableTrades: int = Field(description="pnl > 0 (partly closed ones included)")
    losingTrades: int = Field(description="pnl ≤ 0")
    winRate: Human = Field(description="percent of settled trades with pnl > 0")
    totalPnl: Human = Field(description="USD, realized: the sum of the close rows")
    totalMargin: Human = Field(description="USD")
    bestTrade: Human | None
    worstTrade: Human | None
    closes: int = Field(description="closes, part or whole")
    closeReasons: CloseReasons = Field(description="closes by reason")


class Pagination(BaseModel):
    total: int
    limit: int
    offset: int
    hasMore: bool


class History(BaseModel):
    success: Literal[True] = True
    data: list[HistoryTrade]
    analytics: HistoryAnalytics
    pagination: Pagination


class AssetBalance(BaseModel):
    balance: int = Field(description="minor units")
    decimals: int


class Balances(BaseModel):
    USDC: AssetBalance
    BTC: AssetBalance
    ETH: AssetBalance
    SOL: AssetBalance


class UsdBalance(BaseModel):
    balance: int = Field(description="cents")


class SupportedAsset(BaseModel):
    symbol: Asset
    name: str
    decimals: int
    imageUrl: str


class SupportedAssets(BaseModel):
    assets: list[SupportedAsset]


KlineInterval = Literal[
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1month"
]


class Kline(BaseModel):
    """A candle in Backpack's format: times and values are strings."""

    start: str = Field(description="UTC, 'YYYY-MM-DD HH:MM:SS'")
    end: str = Field(description="the next candle's start")
    open: str
    high: str
    low: str
    close: str
    volume: str = Field(description="always 0: bookTicker quotes carry no volume")
    quoteVolume: str = Field(description="always 0")
    trades: str = Field(description="price updates in the interval")

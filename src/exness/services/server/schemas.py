"""Request and response models of the HTTP API (SPEC §4), documented in /openapi.json.

Units: request amounts and balances are integers in minor units (margin in cents,
slippage in basis points, a quoted price in the asset's units: SOL/ETH 6 decimals, BTC 4).
Trade records (open trades, history, close answers) show prices and USD amounts as exact
decimal numbers in human units (`201.47`, pnl `-12.5`), as the seed's clients expect.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, WithJsonSchema

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


class TradeCreateBody(Strict):
    asset: Asset
    type: TradeType
    margin: int = Field(gt=0, le=MAX_MARGIN_CENTS, description="cents taken from the balance")
    leverage: int = Field(ge=1, le=100, description="1x to 100x")
    slippage: int = Field(
        ge=10, le=10_000, description="basis points the execution price may differ from the quote"
    )
    price: int | None = Field(
        None,
        gt=0,
        le=MAX_PRICE_UNITS,
        description="optional quote in the asset's units; by default the latest price the "
        "server holds when the request arrives",
    )


class TradeCloseBody(Strict):
    # No control characters: the id travels to the engine and, in its replies, to the
    # database, where a NUL is refused.
    orderId: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")


class Message(BaseModel):
    message: str


class Failure(BaseModel):
    success: Literal[False] = False
    message: str
    code: str | None = None


class PositionView(BaseModel):
    """A position as every trade answer shows it (create, open trades, close)."""

    orderId: str
    asset: Asset
    type: TradeType
    margin: Human = Field(description="USD")
    leverage: int
    openPrice: Human = Field(description="human units")
    liquidationPrice: Human = Field(description="human units: liquidated at or beyond it")
    createdAt: str = Field(description="when it opened, ISO 8601 UTC")


class TradeCreated(PositionView):
    balance: int = Field(description="cents left in the wallet")


class TradeClosedAnswer(PositionView):
    closePrice: Human = Field(description="human units")
    pnl: Human = Field(description="USD, realized")
    liquidated: bool
    closedAt: str = Field(description="ISO 8601 UTC")
    balance: int = Field(description="cents in the wallet after the close")


class OpenTrade(PositionView):
    currentPrice: Human | None = Field(description="the engine's latest price, human units")
    pnl: Human | None = Field(description="USD if closed at currentPrice")


class OpenTrades(BaseModel):
    trades: list[OpenTrade]


OrderType = Literal["market", "limit", "stop"]
CloseReason = Literal["manual", "sl", "tp", "liquidation"]
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
    orderType: OrderType | None = Field(
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

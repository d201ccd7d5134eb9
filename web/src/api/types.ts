// What the client hands the screens: money in cents and prices in asset units (bigint),
// never the wire's field names or its decimals.
import type { AssetSymbol } from "../lib/assets";
import type { Side } from "../lib/preview";

export type { AssetSymbol, Side };

export const INTERVALS = ["1m", "5m", "15m", "1h", "1d"] as const;
export type Interval = (typeof INTERVALS)[number];

export const ORDER_TYPES = ["market", "limit", "stop"] as const;
export type OrderType = (typeof ORDER_TYPES)[number];
export type PendingType = Exclude<OrderType, "market">;

export const CLOSE_REASONS = ["manual", "sl", "tp", "liquidation"] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface Candle {
  /** the candle's start, seconds since the epoch (UTC) */
  time: number;
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
}

/** A quote (SPEC §7.1): a long opens at the ask and closes at the bid, a short the other way. */
export interface Quote {
  asset: AssetSymbol;
  bid: bigint;
  ask: bigint;
  /** the mid */
  price: bigint;
  /** the feed's time of the quote, µs since the epoch, when known */
  ts: bigint | null;
}

export interface OpenPosition {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  margin: bigint;
  leverage: number;
  openPrice: bigint;
  liquidationPrice: bigint;
  stopLoss: bigint | null;
  takeProfit: bigint | null;
  /** the server's valuation when it answered (live screens value it from the quotes) */
  currentPrice: bigint | null;
  pnl: bigint | null;
  openedAt: string;
}

/** A limit or stop order waiting for its trigger; its margin is reserved. */
export interface PendingOrder {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  orderType: PendingType;
  triggerPrice: bigint;
  margin: bigint;
  leverage: number;
  stopLoss: bigint | null;
  takeProfit: bigint | null;
  placedAt: string;
}

export interface NewOrder {
  asset: AssetSymbol;
  side: Side;
  orderType: OrderType;
  margin: bigint;
  leverage: number;
  /** basis points the fill may differ from `price` (market orders) */
  slippage?: number;
  /** the quote the trader saw, in asset units; the server's latest when absent */
  price?: bigint;
  /** limit and stop orders */
  triggerPrice?: bigint;
  stopLoss?: bigint;
  takeProfit?: bigint;
}

/** What POST /trade/create answered: a position (market) or a waiting order (limit/stop). */
export type Placed =
  | { kind: "position"; position: OpenPosition; balance: bigint }
  | { kind: "pending"; order: PendingOrder; balance: bigint };

/** One close, whole or part (the close answer and the `closed` live event). */
export interface Close {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  leverage: number;
  openPrice: bigint;
  liquidationPrice: bigint;
  /** the position's margin before this close */
  margin: bigint;
  closedMargin: bigint;
  remainingMargin: bigint;
  /** "open" while margin remains */
  status: "open" | "closed";
  closePrice: bigint;
  pnl: bigint;
  reason: CloseReason;
  liquidated: boolean;
  closedAt: string;
}

/** Stop loss and take profit: a price sets, null clears, undefined keeps. */
export interface Levels {
  stopLoss?: bigint | null;
  takeProfit?: bigint | null;
}

export type Modified =
  { kind: "position"; position: OpenPosition } | { kind: "pending"; order: PendingOrder };

export const HISTORY_STATUSES = [
  "all",
  "open",
  "closed",
  "liquidated",
  "pending",
  "cancelled",
  "any",
] as const;
export type HistoryStatus = (typeof HISTORY_STATUSES)[number];
export type TradeStatus = "pending" | "open" | "closed" | "cancelled";

export interface HistoryTrade {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  /** null from a server without order types (all were market orders then) */
  orderType: OrderType | null;
  status: TradeStatus;
  margin: bigint;
  leverage: number;
  triggerPrice: bigint | null;
  openPrice: bigint | null;
  closePrice: bigint | null;
  liquidationPrice: bigint | null;
  stopLoss: bigint | null;
  takeProfit: bigint | null;
  /** realized so far, in cents */
  pnl: bigint | null;
  liquidated: boolean;
  closeReason: CloseReason | null;
  createdAt: string;
  closedAt: string | null;
  /** "45s", "3h 5m" */
  duration: string | null;
}

/** Filters of GET /trade/history (and its CSV statement); absent is "any". */
export interface HistoryFilter {
  status?: HistoryStatus;
  asset?: AssetSymbol;
  side?: Side;
  orderType?: OrderType;
  closeReason?: CloseReason;
  /** a UTC day, YYYY-MM-DD: from its start */
  fromDate?: string;
  /** a UTC day, YYYY-MM-DD: to its end */
  toDate?: string;
}

export interface HistoryAnalytics {
  totalTrades: number;
  openTrades: number | null;
  closedTrades: number | null;
  liquidatedTrades: number | null;
  pendingOrders: number | null;
  cancelledOrders: number | null;
  profitableTrades: number | null;
  losingTrades: number | null;
  /** percent of settled trades with a profit, in hundredths of a percent (5000n is 50.00 %) */
  winRate: bigint;
  totalPnl: bigint;
  totalMargin: bigint | null;
  bestTrade: bigint | null;
  worstTrade: bigint | null;
  /** closes by reason, from a server that records them */
  closeReasons: Record<CloseReason, number> | null;
}

export interface HistoryPage {
  trades: HistoryTrade[];
  analytics: HistoryAnalytics;
  total: number;
  hasMore: boolean;
}

/** The account summary of §7.6 (GET /account), in cents. */
export interface Account {
  balance: bigint;
  reserved: bigint;
  usedMargin: bigint;
  unrealizedPnl: bigint;
  equity: bigint;
  /** equity / used margin in hundredths of a percent (12345n is 123.45 %); null without a position */
  marginLevel: bigint | null;
  openPositions: number;
  pendingOrders: number;
}

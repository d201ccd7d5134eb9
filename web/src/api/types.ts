// What the client hands the screens: money in cents and prices in asset units (bigint),
// never the wire's field names or its decimals.
import type { AssetSymbol } from "../lib/assets";
import type { Side } from "../lib/preview";

export type { AssetSymbol, Side };

export const INTERVALS = ["1m", "5m", "15m", "1h", "1d"] as const;
export type Interval = (typeof INTERVALS)[number];

export interface Candle {
  /** the candle's start, seconds since the epoch (UTC) */
  time: number;
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
}

export interface OpenPosition {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  margin: bigint;
  leverage: number;
  openPrice: bigint;
  liquidationPrice: bigint;
  currentPrice: bigint | null;
  pnl: bigint | null;
  openedAt: string;
}

export interface OpenOrder {
  asset: AssetSymbol;
  side: Side;
  margin: bigint;
  leverage: number;
  /** basis points the fill may differ from `price` */
  slippage: number;
  /** the quote the trader saw, in asset units; the server's latest when absent */
  price?: bigint;
}

export interface OpenedPosition {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  openPrice: bigint;
  liquidationPrice: bigint;
  balance: bigint;
}

export interface ClosedPosition {
  orderId: string;
  closePrice: bigint;
  pnl: bigint;
  liquidated: boolean;
  balance: bigint;
}

export type TradeStatus = "open" | "closed" | "liquidated";

export interface HistoryTrade {
  orderId: string;
  asset: AssetSymbol;
  side: Side;
  status: TradeStatus;
  margin: bigint;
  leverage: number;
  openPrice: bigint;
  closePrice: bigint | null;
  pnl: bigint | null;
  openedAt: string;
  closedAt: string | null;
}

export interface HistoryAnalytics {
  totalTrades: number;
  /** percent of settled trades with a profit, in hundredths of a percent (5000n is 50.00 %) */
  winRate: bigint;
  totalPnl: bigint;
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

// The trader's history from the main DB (GET /trade/history, SPEC §4, §7.4) and its CSV
// statement (§7.7): the same filters for both. Fields a server before §7 did not send
// (orderType, closeReason, levels, …) read as null.
import { assetOf, priceOf, sideOf, usdOf } from "./assets";
import { ApiError } from "./errors";
import { request, url } from "./http";
import { closeReasonOf } from "./trading";
import {
  CLOSE_REASONS,
  ORDER_TYPES,
  type CloseReason,
  type HistoryAnalytics,
  type HistoryFilter,
  type HistoryPage,
  type HistoryTrade,
  type OrderType,
  type TradeStatus,
} from "./types";
import {
  array,
  boolean,
  decimal,
  nullable,
  object,
  smallInteger,
  string,
  type WireObject,
} from "./wire";

const bad = (what: string) =>
  new ApiError(`the server sent an unexpected answer (${what})`, 0, undefined, "decode");

function statusOf(item: WireObject): TradeStatus {
  const status = string(item, "status");
  if (status === "liquidated") return "closed"; // an older server's word for it
  if (status !== "pending" && status !== "open" && status !== "closed" && status !== "cancelled") {
    throw bad(`unknown status ${status}`);
  }
  return status;
}

function orderTypeOf(item: WireObject): OrderType | null {
  const kind = item.orderType;
  if (kind === null || kind === undefined) return null;
  const known = ORDER_TYPES.find((name) => name === kind);
  if (known === undefined) throw bad("orderType is not market, limit or stop");
  return known;
}

export function readHistoryTrade(item: WireObject): HistoryTrade {
  const asset = assetOf(item);
  const price = (key: string) => nullable(item, key, (s, k) => priceOf(s, k, asset));
  return {
    orderId: string(item, "orderId"),
    asset,
    side: sideOf(item),
    orderType: orderTypeOf(item),
    status: statusOf(item),
    margin: usdOf(item, "margin"),
    leverage: smallInteger(item, "leverage"),
    triggerPrice: price("triggerPrice"),
    openPrice: price("openPrice"),
    closePrice: price("closePrice"),
    liquidationPrice: price("liquidationPrice"),
    stopLoss: price("stopLoss"),
    takeProfit: price("takeProfit"),
    pnl: nullable(item, "pnl", usdOf),
    liquidated: boolean(item, "liquidated"),
    closeReason: closeReasonOf(item, "closeReason"),
    createdAt: string(item, "createdAt"),
    closedAt: nullable(item, "closedAt", string),
    duration: nullable(item, "duration", string),
  };
}

function count(source: WireObject, key: string): number | null {
  return nullable(source, key, smallInteger);
}

function readAnalytics(analytics: WireObject): HistoryAnalytics {
  const reasons = analytics.closeReasons;
  let closeReasons: Record<CloseReason, number> | null = null;
  if (reasons !== null && reasons !== undefined) {
    const body = object(reasons, "closeReasons");
    closeReasons = { manual: 0, sl: 0, tp: 0, liquidation: 0 };
    for (const reason of CLOSE_REASONS) closeReasons[reason] = count(body, reason) ?? 0;
  }
  return {
    totalTrades: smallInteger(analytics, "totalTrades"),
    openTrades: count(analytics, "openTrades"),
    closedTrades: count(analytics, "closedTrades"),
    liquidatedTrades: count(analytics, "liquidatedTrades"),
    pendingOrders: count(analytics, "pendingOrders"),
    cancelledOrders: count(analytics, "cancelledOrders"),
    profitableTrades: count(analytics, "profitableTrades"),
    losingTrades: count(analytics, "losingTrades"),
    winRate: decimal(analytics, "winRate", 2),
    totalPnl: usdOf(analytics, "totalPnl"),
    totalMargin: nullable(analytics, "totalMargin", usdOf),
    bestTrade: nullable(analytics, "bestTrade", usdOf),
    worstTrade: nullable(analytics, "worstTrade", usdOf),
    closeReasons,
  };
}

/** The filters as query parameters: a day range covers both days whole, in UTC. */
export function historyQuery(filter: HistoryFilter): Record<string, string | undefined> {
  return {
    status: filter.status,
    asset: filter.asset,
    tradeType: filter.side,
    orderType: filter.orderType,
    closeReason: filter.closeReason,
    fromDate: filter.fromDate === undefined ? undefined : `${filter.fromDate}T00:00:00Z`,
    toDate: filter.toDate === undefined ? undefined : `${filter.toDate}T23:59:59.999999Z`,
  };
}

export async function tradeHistory(
  filter: HistoryFilter,
  page: { limit: number; offset: number },
  signal?: AbortSignal,
): Promise<HistoryPage> {
  const body = object(
    await request("GET", "/trade/history", {
      query: {
        ...historyQuery(filter),
        limit: page.limit,
        offset: page.offset,
        sortBy: "createdAt",
        sortOrder: "desc",
      },
      ...(signal ? { signal } : {}),
    }),
  );
  const pagination = object(body.pagination, "pagination");
  return {
    trades: array(body.data, "data").map((item) => readHistoryTrade(object(item, "a trade"))),
    analytics: readAnalytics(object(body.analytics, "analytics")),
    total: smallInteger(pagination, "total"),
    hasMore: boolean(pagination, "hasMore"),
  };
}

/** The CSV statement of the same rows (SPEC §7.7), for a download link (the cookie goes along). */
export function historyCsvUrl(filter: HistoryFilter): string {
  return url("/trade/history", {
    ...historyQuery(filter),
    format: "csv",
    sortBy: "createdAt",
    sortOrder: "desc",
  });
}

// Opening and closing positions; open positions live from the engine; history from the DB.
// Requests carry integers in minor units; trade records come back as human-unit decimals.
import { request } from "./http";
import { assetOf, priceOf, sideOf, usdOf } from "./assets";
import type {
  ClosedPosition,
  HistoryPage,
  HistoryTrade,
  OpenOrder,
  OpenPosition,
  OpenedPosition,
  TradeStatus,
} from "./types";
import type { AssetSymbol } from "../lib/assets";
import {
  array,
  boolean,
  decimal,
  integer,
  nullable,
  object,
  smallInteger,
  string,
  type WireObject,
} from "./wire";
import { ApiError } from "./errors";

export async function openPosition(order: OpenOrder): Promise<OpenedPosition> {
  const body = object(
    await request("POST", "/trade/create", {
      body: {
        asset: order.asset,
        type: order.side,
        margin: order.margin,
        leverage: order.leverage,
        slippage: order.slippage,
        price: order.price,
      },
    }),
  );
  const asset = assetOf(body);
  return {
    orderId: string(body, "orderId"),
    asset,
    side: sideOf(body),
    openPrice: priceOf(body, "openPrice", asset),
    liquidationPrice: priceOf(body, "liquidationPrice", asset),
    balance: integer(body, "balance"),
  };
}

/** Close a whole position (its asset reads the close price). */
export async function closePosition(orderId: string, asset: AssetSymbol): Promise<ClosedPosition> {
  const body = object(await request("POST", "/trade/close", { body: { orderId } }));
  return {
    orderId: string(body, "orderId"),
    closePrice: priceOf(body, "closePrice", asset),
    pnl: usdOf(body, "pnl"),
    liquidated: boolean(body, "liquidated"),
    balance: integer(body, "balance"),
  };
}

export function readOpenPosition(item: WireObject): OpenPosition {
  const asset = assetOf(item);
  return {
    orderId: string(item, "orderId"),
    asset,
    side: sideOf(item),
    margin: usdOf(item, "margin"),
    leverage: smallInteger(item, "leverage"),
    openPrice: priceOf(item, "openPrice", asset),
    liquidationPrice: priceOf(item, "liquidationPrice", asset),
    currentPrice: nullable(item, "currentPrice", (s, k) => priceOf(s, k, asset)),
    pnl: nullable(item, "pnl", usdOf),
    openedAt: string(item, "createdAt"),
  };
}

export async function openPositions(signal?: AbortSignal): Promise<OpenPosition[]> {
  const body = object(await request("GET", "/trades/open", signal ? { signal } : {}));
  return array(body.trades, "trades").map((item) => readOpenPosition(object(item, "a trade")));
}

function statusOf(item: WireObject): TradeStatus {
  const status = string(item, "status");
  if (status !== "open" && status !== "closed" && status !== "liquidated") {
    throw new ApiError(`the server sent an unknown status ${status}`, 0, undefined, "decode");
  }
  return status;
}

export function readHistoryTrade(item: WireObject): HistoryTrade {
  const asset = assetOf(item);
  return {
    orderId: string(item, "orderId"),
    asset,
    side: sideOf(item),
    status: statusOf(item),
    margin: usdOf(item, "margin"),
    leverage: smallInteger(item, "leverage"),
    openPrice: priceOf(item, "openPrice", asset),
    closePrice: nullable(item, "closePrice", (s, k) => priceOf(s, k, asset)),
    pnl: nullable(item, "pnl", usdOf),
    openedAt: string(item, "createdAt"),
    closedAt: nullable(item, "closedAt", string),
  };
}

export async function tradeHistory(
  page: { limit: number; offset: number },
  signal?: AbortSignal,
): Promise<HistoryPage> {
  const body = object(
    await request("GET", "/trade/history", {
      query: { limit: page.limit, offset: page.offset, sortBy: "createdAt", sortOrder: "desc" },
      ...(signal ? { signal } : {}),
    }),
  );
  const analytics = object(body.analytics, "analytics");
  const pagination = object(body.pagination, "pagination");
  return {
    trades: array(body.data, "data").map((item) => readHistoryTrade(object(item, "a trade"))),
    analytics: {
      totalTrades: smallInteger(analytics, "totalTrades"),
      winRate: decimal(analytics, "winRate", 2),
      totalPnl: usdOf(analytics, "totalPnl"),
    },
    total: smallInteger(pagination, "total"),
    hasMore: boolean(pagination, "hasMore"),
  };
}

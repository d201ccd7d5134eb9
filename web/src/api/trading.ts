// Orders and positions (SPEC §4, §7): open at market or place a limit/stop order, close all
// or part, set stop loss and take profit, cancel; open positions and pending orders live from
// the engine. Requests carry integers in minor units; records come back as human-unit
// decimals. Every state-changing request goes through sendAction (one Idempotency-Key per
// action, safe retries).
import type { AssetSymbol } from "../lib/assets";
import { sendAction } from "./action";
import { assetOf, priceOf, sideOf, usdOf } from "./assets";
import { ApiError } from "./errors";
import { request } from "./http";
import type { BodyValue } from "./json";
import {
  CLOSE_REASONS,
  type Close,
  type CloseReason,
  type Levels,
  type Modified,
  type NewOrder,
  type OpenPosition,
  type PendingOrder,
  type PendingType,
  type Placed,
} from "./types";
import {
  array,
  boolean,
  integer,
  nullable,
  object,
  smallInteger,
  string,
  type WireObject,
} from "./wire";

const bad = (what: string) =>
  new ApiError(`the server sent an unexpected answer (${what})`, 0, undefined, "decode");

/** The side: `type` in HTTP answers, `tradeType` in live events (where `type` names the message). */
function sideField(item: WireObject): string {
  return "tradeType" in item ? "tradeType" : "type";
}

function level(item: WireObject, key: string, asset: AssetSymbol): bigint | null {
  return nullable(item, key, (source, name) => priceOf(source, name, asset));
}

export function readPosition(item: WireObject): OpenPosition {
  const asset = assetOf(item);
  return {
    orderId: string(item, "orderId"),
    asset,
    side: sideOf(item, sideField(item)),
    margin: usdOf(item, "margin"),
    leverage: smallInteger(item, "leverage"),
    openPrice: priceOf(item, "openPrice", asset),
    liquidationPrice: priceOf(item, "liquidationPrice", asset),
    stopLoss: level(item, "stopLoss", asset),
    takeProfit: level(item, "takeProfit", asset),
    currentPrice: level(item, "currentPrice", asset),
    pnl: nullable(item, "pnl", usdOf),
    openedAt: string(item, "createdAt"),
  };
}

function pendingType(item: WireObject): PendingType {
  const kind = string(item, "orderType");
  if (kind !== "limit" && kind !== "stop") throw bad(`orderType ${kind} is not limit or stop`);
  return kind;
}

export function readPending(item: WireObject): PendingOrder {
  const asset = assetOf(item);
  return {
    orderId: string(item, "orderId"),
    asset,
    side: sideOf(item, sideField(item)),
    orderType: pendingType(item),
    triggerPrice: priceOf(item, "triggerPrice", asset),
    margin: usdOf(item, "margin"),
    leverage: smallInteger(item, "leverage"),
    stopLoss: level(item, "stopLoss", asset),
    takeProfit: level(item, "takeProfit", asset),
    placedAt: string(item, "createdAt"),
  };
}

export function closeReasonOf(item: WireObject, key: string): CloseReason | null {
  const reason = item[key];
  if (reason === null || reason === undefined) return null;
  const known = CLOSE_REASONS.find((name) => name === reason);
  if (known === undefined) throw bad(`${key} is not a close reason`);
  return known;
}

/** One close, whole or part: the close answer, or a `closed` event. */
export function readClose(item: WireObject): Close {
  const asset = assetOf(item);
  const status = string(item, "status");
  if (status !== "open" && status !== "closed") throw bad(`status ${status} after a close`);
  const liquidated = boolean(item, "liquidated");
  const margin = usdOf(item, "margin");
  const closedMargin = "closedMargin" in item ? usdOf(item, "closedMargin") : margin;
  return {
    orderId: string(item, "orderId"),
    asset,
    side: sideOf(item, sideField(item)),
    leverage: smallInteger(item, "leverage"),
    openPrice: priceOf(item, "openPrice", asset),
    liquidationPrice: priceOf(item, "liquidationPrice", asset),
    margin,
    closedMargin,
    remainingMargin: "remainingMargin" in item ? usdOf(item, "remainingMargin") : 0n,
    status,
    closePrice: priceOf(item, "closePrice", asset),
    pnl: usdOf(item, "pnl"),
    reason:
      closeReasonOf(item, "closeReason") ??
      closeReasonOf(item, "reason") ??
      (liquidated ? "liquidation" : "manual"),
    liquidated,
    closedAt: typeof item.closedAt === "string" ? item.closedAt : "",
  };
}

function orderBody(order: NewOrder): Record<string, BodyValue> {
  const body: Record<string, BodyValue> = {
    asset: order.asset,
    type: order.side,
    orderType: order.orderType,
    margin: order.margin,
    leverage: order.leverage,
  };
  if (order.slippage !== undefined) body.slippage = order.slippage;
  if (order.price !== undefined) body.price = order.price;
  if (order.triggerPrice !== undefined) body.triggerPrice = order.triggerPrice;
  if (order.stopLoss !== undefined) body.stopLoss = order.stopLoss;
  if (order.takeProfit !== undefined) body.takeProfit = order.takeProfit;
  return body;
}

/** POST /trade/create: a position at market, or a limit/stop order that waits. */
export async function placeOrder(order: NewOrder): Promise<Placed> {
  const body = object(await sendAction("/trade/create", orderBody(order)));
  const balance = integer(body, "balance");
  if (body.status === "pending") return { kind: "pending", order: readPending(body), balance };
  return { kind: "position", position: readPosition(body), balance };
}

/** POST /trade/close: the whole position, or `margin` cents of it. */
export async function closePosition(
  orderId: string,
  margin?: bigint,
): Promise<Close & { balance: bigint }> {
  const body = object(
    await sendAction("/trade/close", margin === undefined ? { orderId } : { orderId, margin }),
  );
  return { ...readClose(body), balance: integer(body, "balance") };
}

/** POST /trade/modify: a price sets a level, null clears it, an absent one stays. */
export async function modifyLevels(orderId: string, levels: Levels): Promise<Modified> {
  const body: Record<string, BodyValue> = { orderId };
  if (levels.stopLoss !== undefined) body.stopLoss = levels.stopLoss;
  if (levels.takeProfit !== undefined) body.takeProfit = levels.takeProfit;
  const answer = object(await sendAction("/trade/modify", body));
  return answer.status === "pending"
    ? { kind: "pending", order: readPending(answer) }
    : { kind: "position", position: readPosition(answer) };
}

/** POST /order/cancel: the reserve comes back to the balance. */
export async function cancelOrder(orderId: string): Promise<PendingOrder & { balance: bigint }> {
  const body = object(await sendAction("/order/cancel", { orderId }));
  return { ...readPending(body), balance: integer(body, "balance") };
}

export async function openPositions(signal?: AbortSignal): Promise<OpenPosition[]> {
  const body = object(await request("GET", "/trades/open", signal ? { signal } : {}));
  return array(body.trades, "trades").map((item) => readPosition(object(item, "a trade")));
}

export async function pendingOrders(signal?: AbortSignal): Promise<PendingOrder[]> {
  const body = object(await request("GET", "/orders/pending", signal ? { signal } : {}));
  return array(body.orders, "orders").map((item) => readPending(object(item, "an order")));
}

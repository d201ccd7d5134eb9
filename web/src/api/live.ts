// What §8's data messages mean, as the screens use them. The socket (socket.ts) hands over
// {channel, seq, traderSeq, body}; these read the body. Prices in quotes and trade records
// are exact decimals in human units (SPEC §4); candles are the /klines shape.
import { isAssetSymbol, type AssetSymbol } from "../lib/assets";
import { readCandle, readQuote } from "./market";
import type { LiveMessage } from "./socket";
import { readClose, readPending, readPosition } from "./trading";
import {
  INTERVALS,
  type Account,
  type Candle,
  type Close,
  type Interval,
  type OpenPosition,
  type PendingOrder,
  type Quote,
} from "./types";
import { readAccount } from "./wallet";
import { string } from "./wire";

/** A trader's order event (the `account` channel's `order` messages). */
export type OrderEvent =
  | { event: "opened" | "filled"; position: OpenPosition }
  | { event: "placed" | "cancelled"; order: PendingOrder }
  | { event: "modified"; position: OpenPosition }
  | { event: "modified"; order: PendingOrder }
  | { event: "closed"; close: Close };

export type LiveEvent =
  | { kind: "quote"; quote: Quote }
  | { kind: "candle"; asset: AssetSymbol; interval: Interval; candle: Candle }
  | { kind: "account"; account: Account }
  | { kind: "order"; order: OrderEvent };

export const quotesChannel = "quotes";
export const accountChannel = "account";
export function candlesChannel(asset: AssetSymbol, interval: Interval): string {
  return `candles:${asset}:${interval}`;
}

const CANDLES = /^candles:([A-Z]+):(\w+)$/;

function readOrderEvent(message: LiveMessage): OrderEvent | undefined {
  const body = message.body;
  const event = string(body, "event");
  switch (event) {
    case "opened":
    case "filled":
      return { event, position: readPosition(body) };
    case "placed":
    case "cancelled":
      return { event, order: readPending(body) };
    case "modified":
      return body.status === "pending"
        ? { event, order: readPending(body) }
        : { event, position: readPosition(body) };
    case "closed":
      return { event, close: readClose(body) };
    default:
      return undefined; // an event this client does not know yet
  }
}

/** The event a message carries, or undefined for one this client does not know. */
export function readLiveEvent(message: LiveMessage): LiveEvent | undefined {
  const body = message.body;
  if (message.channel === quotesChannel) {
    const quote = readQuote(body);
    return quote && { kind: "quote", quote };
  }
  const candles = CANDLES.exec(message.channel);
  if (candles) {
    const [, asset = "", name] = candles;
    const interval = INTERVALS.find((known) => known === name);
    if (!isAssetSymbol(asset) || interval === undefined) return undefined;
    return { kind: "candle", asset, interval, candle: readCandle(body, asset) };
  }
  if (message.channel === accountChannel) {
    if (body.type === "account") return { kind: "account", account: readAccount(body) };
    if (body.type === "order") {
      const order = readOrderEvent(message);
      return order && { kind: "order", order };
    }
  }
  return undefined;
}

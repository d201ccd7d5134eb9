// What §8's messages mean, as the screens use them. The socket (socket.ts) hands over
// {channel, seq, traderSeq, body}; these read the body. Prices in quotes and candles are
// decimals in human units, as in every trade record (SPEC §4).
import type { AssetSymbol } from "../lib/assets";
import type { Quote } from "../lib/preview";
import { assetOf, priceOf } from "./assets";
import { readCandle } from "./market";
import type { LiveMessage } from "./socket";
import type { Account, Candle, Interval } from "./types";
import { INTERVALS } from "./types";
import { readAccount } from "./wallet";
import { string } from "./wire";

export interface LiveQuote extends Quote {
  asset: AssetSymbol;
  price: bigint;
}

export type LiveEvent =
  | { kind: "quote"; quote: LiveQuote }
  | { kind: "candle"; asset: AssetSymbol; interval: Interval; candle: Candle }
  | { kind: "account"; account: Account }
  | { kind: "order"; event: string; reason: string | null; orderId: string };

export const quotesChannel = "quotes";
export const accountChannel = "account";
export function candlesChannel(asset: AssetSymbol, interval: Interval): string {
  return `candles:${asset}:${interval}`;
}

/** The event a message carries, or undefined for one this client does not know. */
export function readLiveEvent(message: LiveMessage): LiveEvent | undefined {
  const body = message.body;
  if (message.channel === quotesChannel) {
    const asset = assetOf(body);
    const quote = {
      asset,
      bid: priceOf(body, "bid", asset),
      ask: priceOf(body, "ask", asset),
      price: priceOf(body, "price", asset),
    };
    return { kind: "quote", quote };
  }
  const candles = /^candles:(SOL|ETH|BTC):(\w+)$/.exec(message.channel);
  if (candles) {
    const asset = candles[1] as AssetSymbol;
    const interval = INTERVALS.find((known) => known === candles[2]);
    if (interval === undefined) return undefined;
    return { kind: "candle", asset, interval, candle: readCandle(body, asset) };
  }
  if (message.channel === accountChannel) {
    if (body.type === "account") return { kind: "account", account: readAccount(body) };
    if (body.type === "order") {
      const reason = typeof body.reason === "string" ? body.reason : null;
      return {
        kind: "order",
        event: string(body, "event"),
        reason,
        orderId: string(body, "orderId"),
      };
    }
  }
  return undefined;
}

// Market data: candles (GET /klines, Backpack's shape, prices as decimal strings in human
// units) and quotes (GET /quotes, exact decimal numbers).
import { ASSETS, type AssetSymbol } from "../lib/assets";
import { assetOf, priceOf } from "./assets";
import { ApiError } from "./errors";
import { request } from "./http";
import type { Candle, Interval, Quote } from "./types";
import { array, decimal, integer, nullable, object, string, type WireObject } from "./wire";

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;

/** "2024-05-01 12:34:00" (UTC) in seconds since the epoch. */
export function utcSeconds(stamp: string): number {
  const m = STAMP.exec(stamp);
  if (!m) throw new ApiError(`the server sent a bad candle time ${stamp}`, 0, undefined, "decode");
  type Parts = [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as Parts;
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
}

export function readCandle(item: WireObject, asset: AssetSymbol): Candle {
  const decimals = ASSETS[asset].decimals;
  return {
    time: utcSeconds(string(item, "start")),
    open: decimal(item, "open", decimals),
    high: decimal(item, "high", decimals),
    low: decimal(item, "low", decimals),
    close: decimal(item, "close", decimals),
  };
}

export async function klines(
  asset: AssetSymbol,
  interval: Interval,
  options: { startTime?: number; signal?: AbortSignal } = {},
): Promise<Candle[]> {
  const body = await request("GET", "/klines", {
    query: { asset, interval, startTime: options.startTime },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return array(body, "candles").map((item) => readCandle(object(item, "a candle"), asset));
}

/** A quote's body (GET /quotes item, or a `quotes` live message); undefined before a price. */
export function readQuote(item: WireObject): Quote | undefined {
  if (item.bid === null || item.ask === null || item.price === null) return undefined;
  const asset = assetOf(item);
  return {
    asset,
    bid: priceOf(item, "bid", asset),
    ask: priceOf(item, "ask", asset),
    price: priceOf(item, "price", asset),
    ts: nullable(item, "ts", integer),
  };
}

/** GET /quotes: the latest bid, ask and mid of every asset that has had a price. */
export async function quotes(signal?: AbortSignal): Promise<Quote[]> {
  const body = object(await request("GET", "/quotes", signal ? { signal } : {}));
  return array(body.quotes, "quotes").flatMap((item) => {
    const quote = readQuote(object(item, "a quote"));
    return quote ? [quote] : [];
  });
}

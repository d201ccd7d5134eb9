// The latest price of every market, from the newest 1-minute candle. A stand-in until §8's
// `quotes` channel brings live bid and ask: then bid = ask = last price here gives way to
// the real quote, and the ticket previews each side at its own price.
import { klines } from "../../api";
import { ASSET_SYMBOLS, type AssetSymbol } from "../../lib/assets";
import type { Quote } from "../../lib/preview";
import { useResource, type Resource } from "../../shared/useResource";

export type Quotes = Partial<Record<AssetSymbol, Quote>>;

const LOOKBACK_S = 15 * 60;

export function useLastPrices(refreshMs = 5000): Resource<Quotes> {
  return useResource(
    async (signal) => {
      const startTime = Math.floor(Date.now() / 1000) - LOOKBACK_S;
      const candles = await Promise.all(
        ASSET_SYMBOLS.map((asset) => klines(asset, "1m", { startTime, signal })),
      );
      const quotes: Quotes = {};
      ASSET_SYMBOLS.forEach((asset, i) => {
        const last = candles[i]?.at(-1);
        if (last) quotes[asset] = { bid: last.close, ask: last.close };
      });
      return quotes;
    },
    "last-prices",
    { refreshMs },
  );
}

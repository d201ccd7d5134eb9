// The chart: candles over REST (GET /klines), then the current candle live (the
// `candles:ASSET:INTERVAL` channel), reloaded after a reconnect (candles that closed while
// the socket was down are not replayed). Price lines: each open position's entry,
// liquidation, stop loss and take profit, and each pending order's trigger.
import { lazy, Suspense, useMemo, useState } from "react";
import { type Candle, candlesChannel, type Interval, klines, readLiveEvent } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { formatPrice } from "../../lib/money";
import { useChannel, useReconnected, useTerminal } from "../../live/LiveProvider";
import { ErrorText } from "../../shared/ErrorText";
import { useResource } from "../../shared/useResource";
import { IntervalButtons } from "./IntervalButtons";
import { priceLines } from "./priceLines";

// lightweight-charts is most of the bundle: the sign-in page does not wait for it.
const PriceChart = lazy(async () => ({ default: (await import("./PriceChart")).PriceChart }));

export function ChartPanel({ asset }: { asset: AssetSymbol }) {
  const [interval, setCandleInterval] = useState<Interval>("1m");
  const series = `${asset}:${interval}`;
  const candles = useResource((signal) => klines(asset, interval, { signal }), series);
  const [live, setLive] = useState<{ series: string; candle: Candle }>();
  useChannel(candlesChannel(asset, interval), (message) => {
    const event = readLiveEvent(message);
    if (event?.kind === "candle") setLive({ series, candle: event.candle });
  });
  useReconnected(candles.reload);
  const liveCandle = live?.series === series ? live.candle : undefined;

  const positions = useTerminal((state) => state.positions);
  const pending = useTerminal((state) => state.pending);
  const quote = useTerminal((state) => state.quotes[asset]);
  const lines = useMemo(
    () => priceLines(asset, positions ?? [], pending ?? []),
    [asset, positions, pending],
  );
  const data = candles.data ?? [];
  const last = liveCandle ?? data.at(-1);
  // the image's text: what it shows, the levels included (as the lines on it say them)
  const label =
    `${asset}/USD candlestick chart, ${interval} candles` +
    (last ? `, last ${formatPrice(asset, last.close)}` : ", no prices yet") +
    (lines.length
      ? `; lines: ${lines.map((line) => `${line.title} ${formatPrice(asset, line.units)}`).join(", ")}`
      : "");

  return (
    <section className="panel chart-panel" aria-labelledby="chart-title">
      <div className="panel-head">
        <h2 id="chart-title">
          {asset}/USD{" "}
          {quote && (
            <span className="chart-quote num">
              <span className="muted">Bid</span> {formatPrice(asset, quote.bid)}{" "}
              <span className="muted">Ask</span> {formatPrice(asset, quote.ask)}
            </span>
          )}
        </h2>
        <IntervalButtons value={interval} onChange={setCandleInterval} />
      </div>
      <Suspense fallback={<div className="chart" role="img" aria-label={label} />}>
        <PriceChart
          asset={asset}
          series={series}
          candles={data}
          live={liveCandle}
          lines={lines}
          label={label}
        />
      </Suspense>
      {!candles.loading && data.length === 0 && !liveCandle && !candles.error && (
        <p className="muted">No {asset} prices have been received in this interval yet.</p>
      )}
      <ErrorText message={candles.error} />
    </section>
  );
}

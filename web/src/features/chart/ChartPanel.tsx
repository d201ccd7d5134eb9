import { lazy, Suspense, useMemo, useState } from "react";
import { klines, type Interval, type OpenPosition } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { formatPrice } from "../../lib/money";
import { ErrorText } from "../../shared/ErrorText";
import { useResource } from "../../shared/useResource";
import { IntervalButtons } from "./IntervalButtons";
import type { PriceLine } from "./PriceChart";

// lightweight-charts is most of the bundle: the sign-in page does not wait for it.
const PriceChart = lazy(async () => ({ default: (await import("./PriceChart")).PriceChart }));

interface Props {
  asset: AssetSymbol;
  positions: readonly OpenPosition[];
}

export function ChartPanel({ asset, positions }: Props) {
  const [interval, setCandleInterval] = useState<Interval>("1m");
  const candles = useResource(
    (signal) => klines(asset, interval, { signal }),
    `${asset}:${interval}`,
    {
      refreshMs: 5000,
    },
  );
  const lines = useMemo(
    () =>
      positions
        .filter((position) => position.asset === asset)
        .flatMap((position): PriceLine[] => [
          { units: position.openPrice, title: `${position.side} entry`, kind: "entry" },
          { units: position.liquidationPrice, title: "liquidation", kind: "liquidation" },
        ]),
    [positions, asset],
  );
  const data = candles.data ?? [];
  const last = data.at(-1);
  const label =
    `${asset}/USD candlestick chart, ${interval} candles` +
    (last ? `, last ${formatPrice(asset, last.close)}` : ", no prices yet");

  return (
    <section className="panel chart-panel" aria-labelledby="chart-title">
      <div className="panel-head">
        <h2 id="chart-title">
          {asset}/USD{" "}
          <span className="num muted">{last ? formatPrice(asset, last.close) : ""}</span>
        </h2>
        <IntervalButtons value={interval} onChange={setCandleInterval} />
      </div>
      <Suspense fallback={<div className="chart" role="img" aria-label={label} />}>
        <PriceChart
          asset={asset}
          series={`${asset}:${interval}`}
          candles={data}
          lines={lines}
          label={label}
        />
      </Suspense>
      {!candles.loading && data.length === 0 && !candles.error && (
        <p className="muted">No {asset} prices have been received in this interval yet.</p>
      )}
      <ErrorText message={candles.error} />
    </section>
  );
}

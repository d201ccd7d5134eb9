// The candlestick chart (lightweight-charts): the candles loaded over REST, the current one
// updated live in place, and price lines (entries, liquidations, SL/TP, pending triggers).
import {
  type AutoscaleInfo,
  CandlestickSeries,
  ColorType,
  createChart,
  type IChartApi,
  type IPriceLine,
  type ISeriesApi,
  LineStyle,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import type { Candle } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import {
  chartPriceLabel,
  toChartCandle,
  toChartCandles,
  toChartUnits,
  withLevels,
} from "./chartData";
import type { LineKind, PriceLine } from "./priceLines";

interface Props {
  asset: AssetSymbol;
  /** what the candles are of ("SOL:1m"): a new one resets the view to the latest candles */
  series: string;
  candles: readonly Candle[];
  /** the current candle, live: drawn over the last loaded one or after it */
  live: Candle | undefined;
  lines: readonly PriceLine[];
  label: string;
}

const COLORS = {
  background: "#131a21",
  text: "#c5ced8",
  grid: "#1f2933",
  up: "#2ebd85",
  down: "#f6465d",
};

const LINE_COLORS: Record<LineKind, string> = {
  entry: "#8ab4f8",
  liquidation: "#f6a609",
  sl: "#ff7a85",
  tp: "#3ddc97",
  trigger: "#d7b8ff",
};

export function PriceChart({ asset, series: seriesKey, candles, live, lines, label }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi>(null);
  const series = useRef<ISeriesApi<"Candlestick">>(null);
  const drawn = useRef<string>(null);
  const lastTime = useRef<number>(null);

  useEffect(() => {
    if (!container.current) return;
    const created = createChart(container.current, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: COLORS.background },
        textColor: COLORS.text,
        attributionLogo: false,
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 4 },
    });
    chart.current = created;
    series.current = created.addSeries(CandlestickSeries, {
      upColor: COLORS.up,
      downColor: COLORS.down,
      borderVisible: false,
      wickUpColor: COLORS.up,
      wickDownColor: COLORS.down,
    });
    return () => {
      created.remove();
      chart.current = null;
      series.current = null;
      drawn.current = null;
    };
  }, []);

  useEffect(() => {
    const candleSeries = series.current;
    if (!candleSeries) return;
    const label = chartPriceLabel(asset);
    chart.current?.applyOptions({ localization: { priceFormatter: label } });
    candleSeries.applyOptions({ priceFormat: { type: "custom", minMove: 1, formatter: label } });
    candleSeries.setData(toChartCandles(candles));
    lastTime.current = candles.at(-1)?.time ?? null;
    if (drawn.current !== seriesKey) {
      chart.current?.timeScale().resetTimeScale(); // the default bar spacing, the latest at the right
      drawn.current = seriesKey;
    }
  }, [asset, seriesKey, candles]);

  useEffect(() => {
    const candleSeries = series.current;
    if (!candleSeries || !live) return;
    // lightweight-charts takes the latest bar or a newer one, never an older one
    if (lastTime.current !== null && live.time < lastTime.current) return;
    candleSeries.update(toChartCandle(live));
    lastTime.current = live.time;
    const element = container.current;
    if (element && element.dataset.live !== "true") {
      element.dataset.live = "true"; // drawn with live prices (the browser test and the bench wait for it)
      performance.mark("exness:chart-live");
    }
  }, [live, candles]);

  useEffect(() => {
    const candleSeries = series.current;
    if (!candleSeries) return;
    const levels = lines.map((line) => toChartUnits(line.units));
    candleSeries.applyOptions({
      autoscaleInfoProvider: (candles: () => AutoscaleInfo | null) => {
        const info = candles();
        if (!info?.priceRange) return info;
        return { ...info, priceRange: withLevels(info.priceRange, levels) };
      },
    });
    const drawn: IPriceLine[] = lines.map((line) =>
      candleSeries.createPriceLine({
        price: toChartUnits(line.units),
        title: line.title,
        color: LINE_COLORS[line.kind],
        lineWidth: 1,
        lineStyle: line.kind === "entry" ? LineStyle.Solid : LineStyle.Dashed,
        axisLabelVisible: true,
      }),
    );
    return () => {
      drawn.forEach((line) => {
        candleSeries.removePriceLine(line);
      });
    };
  }, [lines]);

  return (
    <div
      ref={container}
      className="chart"
      role="img"
      aria-label={label}
      data-candles={candles.length}
    />
  );
}

// The markets: each asset's live bid and ask (the `quotes` channel) and its change today,
// the mid against the open of the day's candle (the `candles:ASSET:1d` channel, UTC days).
import { useState } from "react";
import { candlesChannel, readLiveEvent } from "../../api";
import { ASSET_SYMBOLS, ASSETS, type AssetSymbol } from "../../lib/assets";
import { change } from "../../lib/change";
import { formatUnits } from "../../lib/decimal";
import { formatPrice } from "../../lib/money";
import { useChannel, useTerminal } from "../../live/LiveProvider";

interface Props {
  selected: AssetSymbol;
  onSelect: (asset: AssetSymbol) => void;
}

function useDayOpen(asset: AssetSymbol): bigint | undefined {
  const [open, setOpen] = useState<{ start: number; open: bigint }>();
  useChannel(candlesChannel(asset, "1d"), (message) => {
    const event = readLiveEvent(message);
    if (event?.kind !== "candle") return;
    const { time, open: price } = event.candle;
    setOpen((current) =>
      current?.start === time && current.open === price ? current : { start: time, open: price },
    );
  });
  return open?.open;
}

function Market({ asset, selected, onSelect }: Props & { asset: AssetSymbol }) {
  const quote = useTerminal((state) => state.quotes[asset]);
  const dayOpen = useDayOpen(asset);
  const moved = quote && dayOpen !== undefined ? change(dayOpen, quote.price) : undefined;
  const tone = moved === undefined || moved.units === 0n ? "" : moved.units > 0n ? "gain" : "loss";
  return (
    <li>
      <button
        type="button"
        className="market"
        data-asset={asset}
        aria-pressed={asset === selected}
        onClick={() => {
          onSelect(asset);
        }}
      >
        <span className="market-symbol">{asset}/USD</span>
        <span className="market-name">{ASSETS[asset].name}</span>
        {quote ? (
          <span className="market-quote num">
            <span className="market-side">
              <span className="market-label">Bid</span>{" "}
              <span className="market-bid">{formatPrice(asset, quote.bid)}</span>
            </span>
            <span className="market-side">
              <span className="market-label">Ask</span>{" "}
              <span className="market-ask">{formatPrice(asset, quote.ask)}</span>
            </span>
          </span>
        ) : (
          <span className="market-quote muted">no price yet</span>
        )}
        <span className={`market-change num ${tone}`}>
          {moved === undefined ? (
            ""
          ) : (
            <>
              <span className="visually-hidden">change today </span>
              {formatUnits(moved.percent, 2, { signed: true })} %
            </>
          )}
        </span>
      </button>
    </li>
  );
}

export function MarketsList({ selected, onSelect }: Props) {
  return (
    <section className="panel markets" aria-labelledby="markets-title">
      <h2 id="markets-title">Markets</h2>
      <ul>
        {ASSET_SYMBOLS.map((asset) => (
          <Market key={asset} asset={asset} selected={selected} onSelect={onSelect} />
        ))}
      </ul>
    </section>
  );
}

import { ASSET_SYMBOLS, ASSETS, type AssetSymbol } from "../../lib/assets";
import { formatPrice } from "../../lib/money";
import { ErrorText } from "../../shared/ErrorText";
import type { Quotes } from "./useLastPrices";

interface Props {
  quotes: Quotes | undefined;
  error: string | undefined;
  selected: AssetSymbol;
  onSelect: (asset: AssetSymbol) => void;
}

export function MarketsList({ quotes, error, selected, onSelect }: Props) {
  return (
    <section className="panel markets" aria-labelledby="markets-title">
      <h2 id="markets-title">Markets</h2>
      <ul>
        {ASSET_SYMBOLS.map((asset) => {
          const quote = quotes?.[asset];
          return (
            <li key={asset}>
              <button
                type="button"
                className="market"
                aria-pressed={asset === selected}
                onClick={() => {
                  onSelect(asset);
                }}
              >
                <span className="market-symbol">{asset}/USD</span>
                <span className="market-name">{ASSETS[asset].name}</span>
                <span className="market-price num">
                  {quote ? formatPrice(asset, quote.ask) : "no price yet"}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      <ErrorText message={error} />
    </section>
  );
}

// The terminal: account bar, markets, chart, order ticket, open positions. Until §8 lands,
// each part refreshes over REST on a timer (useResource's refreshMs) and after every trade.
import { useCallback, useState } from "react";
import { openPositions, usdBalance } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { useResource } from "../../shared/useResource";
import { AccountBar } from "../account/AccountBar";
import { ChartPanel } from "../chart/ChartPanel";
import { MarketsList } from "../markets/MarketsList";
import { useLastPrices } from "../markets/useLastPrices";
import { OpenPositions } from "../positions/OpenPositions";
import { OrderTicket } from "../ticket/OrderTicket";

export function DashboardPage() {
  const [asset, setAsset] = useState<AssetSymbol>("SOL");
  const balance = useResource((signal) => usdBalance(signal), "balance", { refreshMs: 5000 });
  const positions = useResource((signal) => openPositions(signal), "positions", {
    refreshMs: 3000,
  });
  const quotes = useLastPrices();
  const { reload: reloadBalance } = balance;
  const { reload: reloadPositions } = positions;
  const traded = useCallback(() => {
    reloadBalance();
    reloadPositions();
  }, [reloadBalance, reloadPositions]);

  return (
    <main id="main" className="terminal">
      <h1 className="visually-hidden">Trading terminal</h1>
      <AccountBar balance={balance.data} error={balance.error} />
      <MarketsList quotes={quotes.data} error={quotes.error} selected={asset} onSelect={setAsset} />
      <ChartPanel asset={asset} positions={positions.data ?? []} />
      <OrderTicket
        asset={asset}
        quote={quotes.data?.[asset]}
        balance={balance.data}
        onOpened={traded}
      />
      <OpenPositions positions={positions.data} error={positions.error} onClosed={traded} />
    </main>
  );
}

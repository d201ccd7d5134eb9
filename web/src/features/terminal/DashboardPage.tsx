// The terminal: the account bar, the markets, the chart, the order ticket, and tabs for open
// positions, pending orders and history. Everything live over the one socket (LiveProvider).
import { useState } from "react";
import type { AssetSymbol } from "../../lib/assets";
import { useTerminal } from "../../live/LiveProvider";
import { Tabs } from "../../shared/Tabs";
import { AccountBar } from "../account/AccountBar";
import { ChartPanel } from "../chart/ChartPanel";
import { HistoryView } from "../history/HistoryView";
import { MarketsList } from "../markets/MarketsList";
import { PendingOrders } from "../orders/PendingOrders";
import { OpenPositions } from "../positions/OpenPositions";
import { OrderTicket } from "../ticket/OrderTicket";

function Count({ of }: { of: readonly unknown[] | undefined }) {
  return of === undefined ? null : <span className="count">{of.length}</span>;
}

export function DashboardPage() {
  const [asset, setAsset] = useState<AssetSymbol>("SOL");
  const positions = useTerminal((state) => state.positions);
  const pending = useTerminal((state) => state.pending);

  return (
    <main id="main" className="terminal">
      <h1 className="visually-hidden">Trading terminal</h1>
      <AccountBar />
      <MarketsList selected={asset} onSelect={setAsset} />
      <ChartPanel asset={asset} />
      <OrderTicket asset={asset} />
      <section className="panel activity" aria-label="Activity">
        <Tabs
          label="Positions, orders and history"
          tabs={[
            {
              id: "positions",
              label: (
                <>
                  Positions <Count of={positions} />
                </>
              ),
              panel: <OpenPositions />,
            },
            {
              id: "orders",
              label: (
                <>
                  Pending orders <Count of={pending} />
                </>
              ),
              panel: <PendingOrders />,
            },
            { id: "history", label: "History", panel: <HistoryView /> },
          ]}
        />
      </section>
    </main>
  );
}

// Past and open trades from the main DB, newest first, 50 at a time. §7 adds filters, the
// full analytics and the CSV statement (GET /trade/history?format=csv) here.
import { useState } from "react";
import { tradeHistory } from "../../api";
import { formatUnits } from "../../lib/decimal";
import { Usd } from "../../shared/Amount";
import { ErrorText } from "../../shared/ErrorText";
import { useResource } from "../../shared/useResource";
import { HistoryTable } from "./HistoryTable";

const PAGE = 50;

export function HistoryPage() {
  const [offset, setOffset] = useState(0);
  const history = useResource(
    (signal) => tradeHistory({ limit: PAGE, offset }, signal),
    `history:${offset}`,
  );
  const page = history.data;
  return (
    <main id="main" className="page history">
      <h1>Trade history</h1>
      {page && (
        <dl className="facts inline" aria-label="Summary">
          <dt>Trades</dt>
          <dd className="num">{page.analytics.totalTrades}</dd>
          <dt>Win rate</dt>
          <dd className="num">{formatUnits(page.analytics.winRate, 2)} %</dd>
          <dt>Realized PnL</dt>
          <dd>
            <Usd cents={page.analytics.totalPnl} signed />
          </dd>
        </dl>
      )}
      <ErrorText message={history.error} />
      {history.loading && !page && <p role="status">Loading your trades…</p>}
      {page && <HistoryTable trades={page.trades} />}
      {page && (page.hasMore || offset > 0) && (
        <nav className="pager" aria-label="History pages">
          <button
            type="button"
            disabled={offset === 0}
            onClick={() => {
              setOffset(Math.max(0, offset - PAGE));
            }}
          >
            Newer
          </button>
          <span className="muted">
            {offset + 1}–{offset + page.trades.length} of {page.total}
          </span>
          <button
            type="button"
            disabled={!page.hasMore}
            onClick={() => {
              setOffset(offset + PAGE);
            }}
          >
            Older
          </button>
        </nav>
      )}
    </main>
  );
}

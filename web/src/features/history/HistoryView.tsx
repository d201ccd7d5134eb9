// The trader's history: filters (status, market, side, order type, close reason, dates),
// analytics over everything the filters match, the CSV statement of the same rows, and the
// rows themselves, newest first, 50 at a time. It reloads when an order event arrives.
import { useEffect, useState } from "react";
import { historyCsvUrl, type HistoryFilter, tradeHistory } from "../../api";
import { useTerminal } from "../../live/LiveProvider";
import { ErrorText } from "../../shared/ErrorText";
import { useResource } from "../../shared/useResource";
import { HistoryAnalyticsView } from "./HistoryAnalytics";
import { HistoryFilters } from "./HistoryFilters";
import { HistoryTable } from "./HistoryTable";

const PAGE = 50;

export function HistoryView() {
  const [filter, setFilter] = useState<HistoryFilter>({});
  const [offset, setOffset] = useState(0);
  const version = useTerminal((state) => state.historyVersion);
  const history = useResource(
    (signal) => tradeHistory(filter, { limit: PAGE, offset }, signal),
    `history:${JSON.stringify(filter)}:${offset}`,
  );
  const { reload } = history;
  useEffect(() => {
    reload();
  }, [version, reload]);
  const page = history.data;
  return (
    <div className="history">
      <HistoryFilters
        filter={filter}
        onChange={(next) => {
          setFilter(next);
          setOffset(0);
        }}
      />
      <p className="statement">
        <a href={historyCsvUrl(filter)} download>
          Download CSV
        </a>{" "}
        <span className="muted">(every row these filters match)</span>
      </p>
      {page && <HistoryAnalyticsView analytics={page.analytics} />}
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
    </div>
  );
}

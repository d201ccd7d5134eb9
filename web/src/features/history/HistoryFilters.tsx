// The history's filters; every change applies at once (and to the CSV link).
import { useId } from "react";
import {
  CLOSE_REASONS,
  type CloseReason,
  HISTORY_STATUSES,
  type HistoryFilter,
  type HistoryStatus,
  ORDER_TYPES,
  type OrderType,
} from "../../api";
import { ASSET_SYMBOLS, type AssetSymbol } from "../../lib/assets";
import type { Side } from "../../lib/preview";

const STATUS_LABELS: Record<HistoryStatus, string> = {
  all: "Open and closed",
  open: "Open",
  closed: "Closed",
  liquidated: "Liquidated",
  pending: "Pending orders",
  cancelled: "Cancelled orders",
  any: "Everything",
};

export const REASON_LABELS: Record<CloseReason, string> = {
  manual: "Closed by you",
  sl: "Stop loss",
  tp: "Take profit",
  liquidation: "Liquidation",
};

const TYPE_LABELS: Record<OrderType, string> = { market: "Market", limit: "Limit", stop: "Stop" };

interface Choice<T extends string> {
  name: keyof HistoryFilter;
  label: string;
  options: readonly T[];
  labels: (value: T) => string;
}

export function HistoryFilters({
  filter,
  onChange,
}: {
  filter: HistoryFilter;
  onChange: (filter: HistoryFilter) => void;
}) {
  const id = useId();
  const set = (name: keyof HistoryFilter, value: string) => {
    const entries = Object.entries({ ...filter, [name]: value }).filter(([, kept]) => kept !== "");
    onChange(Object.fromEntries(entries));
  };
  const select = <T extends string>({ name, label, options, labels }: Choice<T>, any: string) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <select
        id={`${id}-${name}`}
        value={filter[name] ?? ""}
        onChange={(event) => {
          set(name, event.target.value);
        }}
      >
        <option value="">{any}</option>
        {options.map((value) => (
          <option key={value} value={value}>
            {labels(value)}
          </option>
        ))}
      </select>
    </div>
  );
  const day = (name: "fromDate" | "toDate", label: string) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <input
        id={`${id}-${name}`}
        type="date"
        value={filter[name] ?? ""}
        onChange={(event) => {
          set(name, event.target.value);
        }}
      />
    </div>
  );
  return (
    <form
      className="filters"
      aria-label="History filters"
      onSubmit={(event) => {
        event.preventDefault();
      }}
    >
      {select<HistoryStatus>(
        {
          name: "status",
          label: "Status",
          options: HISTORY_STATUSES.filter((status) => status !== "all"),
          labels: (status) => STATUS_LABELS[status],
        },
        STATUS_LABELS.all,
      )}
      {select<AssetSymbol>(
        {
          name: "asset",
          label: "Market",
          options: ASSET_SYMBOLS,
          labels: (asset) => `${asset}/USD`,
        },
        "All markets",
      )}
      {select<Side>(
        {
          name: "side",
          label: "Side",
          options: ["long", "short"],
          labels: (side) => (side === "long" ? "Long (buy)" : "Short (sell)"),
        },
        "Both sides",
      )}
      {select<OrderType>(
        {
          name: "orderType",
          label: "Order type",
          options: ORDER_TYPES,
          labels: (kind) => TYPE_LABELS[kind],
        },
        "All types",
      )}
      {select<CloseReason>(
        {
          name: "closeReason",
          label: "Close reason",
          options: CLOSE_REASONS,
          labels: (reason) => REASON_LABELS[reason],
        },
        "Any reason",
      )}
      {day("fromDate", "From (UTC)")}
      {day("toDate", "To (UTC)")}
    </form>
  );
}

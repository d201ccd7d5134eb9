// Stop loss and take profit of a position or a pending order (POST /trade/modify): a price
// sets a level, an empty field clears it. Checked as the engine checks them before sending:
// a position's against the price it is valued at and its liquidation price, a pending
// order's against its trigger.
import { useId, useState } from "react";
import { describeError, modifyLevels, type OpenPosition, type PendingOrder } from "../../api";
import { levelProblems } from "../../lib/levels";
import { formatPrice, parsePrice } from "../../lib/money";
import { exitPrice, liquidationPrice, pnl } from "../../lib/preview";
import { useSettle, useTerminal } from "../../live/LiveProvider";
import { orderNotice } from "../../live/orderText";
import { Usd } from "../../shared/Amount";
import { Dialog } from "../../shared/Dialog";
import { ErrorText } from "../../shared/ErrorText";
import { useNotify } from "../../shared/notices";

export type LevelsTarget =
  { kind: "position"; position: OpenPosition } | { kind: "pending"; order: PendingOrder };

type Level = "stopLoss" | "takeProfit";

const plain = (asset: OpenPosition["asset"], units: bigint | null) =>
  units === null ? "" : formatPrice(asset, units).replaceAll(",", "");

export function LevelsDialog({ target, onClose }: { target: LevelsTarget; onClose: () => void }) {
  const item = target.kind === "position" ? target.position : target.order;
  const { asset, side } = item;
  const quote = useTerminal((state) => state.quotes[asset]);
  const [input, setInput] = useState<Record<Level, string>>({
    stopLoss: plain(asset, item.stopLoss),
    takeProfit: plain(asset, item.takeProfit),
  });
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();
  const settle = useSettle();
  const notify = useNotify();
  const id = useId();

  const parsed: Record<Level, bigint | null | string> = {
    stopLoss: null,
    takeProfit: null,
  };
  for (const level of ["stopLoss", "takeProfit"] as const) {
    const text = input[level];
    if (text.trim() === "") continue;
    const price = parsePrice(asset, text);
    parsed[level] = "error" in price ? price.error : price.units;
  }
  const entry = target.kind === "position" ? target.position.openPrice : target.order.triggerPrice;
  const liquidation =
    target.kind === "position"
      ? target.position.liquidationPrice
      : liquidationPrice(side, target.order.triggerPrice, target.order.leverage);
  const reference =
    target.kind === "position" ? (quote ? exitPrice(side, quote) : undefined) : entry;
  const levels = {
    stopLoss: typeof parsed.stopLoss === "string" ? null : parsed.stopLoss,
    takeProfit: typeof parsed.takeProfit === "string" ? null : parsed.takeProfit,
  };
  const problems =
    reference === undefined
      ? {}
      : levelProblems(asset, side, liquidation, reference, levels.stopLoss, levels.takeProfit);
  const errors: Partial<Record<Level, string>> = {
    ...problems,
    ...(typeof parsed.stopLoss === "string" ? { stopLoss: parsed.stopLoss } : {}),
    ...(typeof parsed.takeProfit === "string" ? { takeProfit: parsed.takeProfit } : {}),
  };
  const valid = errors.stopLoss === undefined && errors.takeProfit === undefined;

  const save = async () => {
    if (!valid) {
      setError("correct the levels marked above first");
      return;
    }
    setSending(true);
    setError(undefined);
    try {
      const modified = await modifyLevels(item.orderId, levels);
      settle((store) => {
        store.modified(modified);
      });
      notify(
        orderNotice(
          modified.kind === "position"
            ? { event: "modified", position: modified.position }
            : { event: "modified", order: modified.order },
        ),
      );
      onClose();
    } catch (failure) {
      setError(`Could not save: ${describeError(failure)}`);
      setSending(false);
    }
  };

  const what =
    target.kind === "position"
      ? `${asset}/USD ${side} ${item.leverage}x`
      : `${asset}/USD ${side === "long" ? "buy" : "sell"} ${target.order.orderType}`;
  const field = (level: Level, label: string) => {
    const units = levels[level];
    return (
      <div className="field">
        <label htmlFor={`${id}-${level}`}>{label}</label>
        <input
          id={`${id}-${level}`}
          value={input[level]}
          inputMode="decimal"
          autoComplete="off"
          placeholder="none"
          aria-invalid={errors[level] ? true : undefined}
          aria-describedby={`${id}-${level}-note`}
          onChange={(event) => {
            setError(undefined);
            setInput({ ...input, [level]: event.target.value });
          }}
        />
        <p id={`${id}-${level}-note`} className={errors[level] ? "field-error" : "field-hint"}>
          {errors[level] ??
            (units === null ? (
              "Empty: none"
            ) : (
              <>
                PnL there:{" "}
                <Usd cents={pnl(side, item.margin, item.leverage, entry, units)} signed />
              </>
            ))}
        </p>
      </div>
    );
  };

  return (
    <Dialog title={`Stop loss and take profit · ${what}`} onClose={onClose}>
      <form
        className="dialog-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <p className="muted">
          {target.kind === "position"
            ? `Entry ${formatPrice(asset, entry)}, liquidation ${formatPrice(asset, liquidation)}` +
              (reference === undefined ? "" : `, now ${formatPrice(asset, reference)}`)
            : `Trigger ${formatPrice(asset, entry)}, liquidation from it ${formatPrice(asset, liquidation)}`}
        </p>
        {field("stopLoss", "Stop loss")}
        {field("takeProfit", "Take profit")}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="primary"
            aria-disabled={sending || !valid ? true : undefined}
          >
            {sending ? "Saving…" : "Save"}
          </button>
        </div>
        <ErrorText message={error} />
      </form>
    </Dialog>
  );
}

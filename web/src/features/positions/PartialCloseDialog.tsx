// Close part of a position (POST /trade/close with a margin): that part's PnL at the current
// price, realized; the rest stays open with the same entry, leverage and liquidation price.
import { useId, useState } from "react";
import { closePosition, describeError, type OpenPosition } from "../../api";
import { livePnl } from "../../lib/account";
import { formatUsd, parseUsd } from "../../lib/money";
import { useSettle, useTerminal } from "../../live/LiveProvider";
import { closeNotice } from "../../live/orderText";
import { Usd } from "../../shared/Amount";
import { Dialog } from "../../shared/Dialog";
import { ErrorText } from "../../shared/ErrorText";
import { useNotify } from "../../shared/notices";

function checkPart(text: string, margin: bigint): bigint | string {
  const parsed = parseUsd(text);
  if ("error" in parsed) return parsed.error;
  if (parsed.cents <= 0n) return "the margin to close must be more than $0.00";
  if (parsed.cents > margin) return `the position's margin is ${formatUsd(margin)}`;
  return parsed.cents;
}

export function PartialCloseDialog({
  position,
  onClose,
}: {
  position: OpenPosition;
  onClose: () => void;
}) {
  const quote = useTerminal((state) => state.quotes[position.asset]);
  const [text, setText] = useState(() => formatUsd(position.margin / 2n).replace("$", ""));
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();
  const settle = useSettle();
  const notify = useNotify();
  const id = useId();
  const part = checkPart(text, position.margin);
  const problem = typeof part === "string" ? part : undefined;

  const send = async () => {
    if (typeof part === "string") {
      setError("correct the amount first");
      return;
    }
    setSending(true);
    setError(undefined);
    try {
      const closed = await closePosition(position.orderId, part);
      settle((store) => {
        store.closed(closed);
      });
      notify(closeNotice(closed));
      onClose();
    } catch (failure) {
      setError(`Could not close: ${describeError(failure)}`);
      setSending(false);
    }
  };

  const what = `${position.asset}/USD ${position.side} ${position.leverage}x`;
  return (
    <Dialog title={`Partial close · ${what}`} onClose={onClose}>
      <form
        className="dialog-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void send();
        }}
      >
        <p className="muted">
          Margin {formatUsd(position.margin)}. The rest stays open at the same entry, leverage and
          liquidation price.
        </p>
        <div className="field">
          <label htmlFor={`${id}-margin`}>Margin to close (USD)</label>
          <input
            id={`${id}-margin`}
            value={text}
            inputMode="decimal"
            autoComplete="off"
            aria-invalid={problem ? true : undefined}
            aria-describedby={`${id}-note`}
            onChange={(event) => {
              setError(undefined);
              setText(event.target.value);
            }}
          />
          <p id={`${id}-note`} className={problem ? "field-error" : "field-hint"}>
            {problem ??
              (quote && typeof part === "bigint" ? (
                <>
                  PnL of this part now:{" "}
                  <Usd cents={livePnl({ ...position, margin: part }, quote)} signed />
                </>
              ) : (
                "Closed at the bid (long) or the ask (short)"
              ))}
          </p>
        </div>
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="primary"
            aria-disabled={sending || problem ? true : undefined}
          >
            {sending ? "Closing…" : "Close part"}
          </button>
        </div>
        <ErrorText message={error} />
      </form>
    </Dialog>
  );
}

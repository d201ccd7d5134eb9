// The order ticket: margin, leverage, slippage; a preview; Sell (short at the bid) and Buy
// (long at the ask). §7 adds an order type (market/limit/stop with a trigger) and SL/TP here.
import { useId, useState } from "react";
import { describeError, openPosition, type OpenedPosition, type Side } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { formatPrice } from "../../lib/money";
import type { Quote } from "../../lib/preview";
import { ErrorText } from "../../shared/ErrorText";
import { useNotify } from "../../shared/notices";
import { TicketPreview } from "./TicketPreview";
import { checkTicket, LEVERAGE_MAX, LEVERAGE_MIN, type TicketInput } from "./ticketForm";

interface Props {
  asset: AssetSymbol;
  quote: Quote | undefined;
  balance: bigint | undefined;
  onOpened: (opened: OpenedPosition) => void;
}

const START: TicketInput = { margin: "10", leverage: "10", slippage: "1" };

export function OrderTicket({ asset, quote, balance, onOpened }: Props) {
  const [input, setInput] = useState<TicketInput>(START);
  const [sending, setSending] = useState<Side>();
  const [error, setError] = useState<string>();
  const notify = useNotify();
  const id = useId();
  const check = checkTicket(input, balance);
  const errors = check.ok ? {} : check.errors;

  const send = async (side: Side) => {
    if (!check.ok) return;
    setSending(side);
    setError(undefined);
    try {
      const opened = await openPosition({
        asset,
        side,
        margin: check.fields.margin,
        leverage: check.fields.leverage,
        slippage: check.fields.slippageBps,
        // the price the trader saw: the engine refuses to fill beyond the slippage from it
        ...(quote ? { price: side === "long" ? quote.ask : quote.bid } : {}),
      });
      notify(
        `Opened ${side} ${asset} at ${formatPrice(asset, opened.openPrice)}, ` +
          `liquidation ${formatPrice(asset, opened.liquidationPrice)}`,
      );
      onOpened(opened);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setSending(undefined);
    }
  };

  const field = (name: keyof TicketInput, label: string, extra: object = {}) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <input
        id={`${id}-${name}`}
        name={name}
        value={input[name]}
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={errors[name] ? `${id}-${name}-error` : undefined}
        onChange={(event) => {
          setInput({ ...input, [name]: event.target.value });
        }}
        {...extra}
      />
      {errors[name] && (
        <p className="field-error" id={`${id}-${name}-error`}>
          {errors[name]}
        </p>
      )}
    </div>
  );

  return (
    <section className="panel ticket" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New order · {asset}/USD</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault(); // Enter never sends an order: only Buy and Sell do
        }}
        noValidate
      >
        {field("margin", "Margin (USD)", { inputMode: "decimal", autoComplete: "off" })}
        {field("leverage", "Leverage", {
          type: "number",
          min: LEVERAGE_MIN,
          max: LEVERAGE_MAX,
          step: 1,
          inputMode: "numeric",
        })}
        {field("slippage", "Slippage (%)", { inputMode: "decimal", autoComplete: "off" })}
        <TicketPreview asset={asset} fields={check.ok ? check.fields : undefined} quote={quote} />
        <div className="sides">
          <button
            type="button"
            className="sell"
            disabled={sending !== undefined || !check.ok}
            onClick={() => {
              void send("short");
            }}
          >
            Sell
          </button>
          <button
            type="button"
            className="buy"
            disabled={sending !== undefined || !check.ok}
            onClick={() => {
              void send("long");
            }}
          >
            Buy
          </button>
        </div>
        <p className="muted hint">Sell opens a short at the bid; Buy opens a long at the ask.</p>
        <ErrorText message={error} />
      </form>
    </section>
  );
}

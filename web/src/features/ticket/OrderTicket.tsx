// The order ticket: market, limit or stop; margin, leverage, slippage, stop loss and take
// profit; a preview of both sides (Sell opens a short at the bid, Buy a long at the ask; a
// limit or stop order at its trigger); one click sends. Each click is one action with its
// own Idempotency-Key: a retry after a lost answer never opens a second position.
import { useId, useState } from "react";
import { describeError, ORDER_TYPES, type OrderType, placeOrder, type Side } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { formatPrice } from "../../lib/money";
import { entryPrice } from "../../lib/preview";
import { useSettle, useTerminal } from "../../live/LiveProvider";
import { orderNotice } from "../../live/orderText";
import { ErrorText } from "../../shared/ErrorText";
import { useNotify } from "../../shared/notices";
import { TicketPreview } from "./TicketPreview";
import {
  checkTicket,
  LEVERAGE_MAX,
  LEVERAGE_MIN,
  sideProblem,
  type TicketInput,
} from "./ticketForm";

const START: TicketInput = {
  orderType: "market",
  trigger: "",
  margin: "10",
  leverage: "10",
  slippage: "1",
  stopLoss: "",
  takeProfit: "",
};

const TYPE_LABELS: Record<OrderType, string> = { market: "Market", limit: "Limit", stop: "Stop" };

type TextField = Exclude<keyof TicketInput, "orderType">;

export function OrderTicket({ asset }: { asset: AssetSymbol }) {
  const [input, setInput] = useState<TicketInput>(START);
  const [sending, setSending] = useState<Side>();
  const [error, setError] = useState<string>();
  const quote = useTerminal((state) => state.quotes[asset]);
  const balance = useTerminal((state) => state.account?.balance);
  const notify = useNotify();
  const settle = useSettle();
  const id = useId();
  const check = checkTicket(input, asset, balance);
  const errors = check.ok ? {} : check.errors;
  const problems: Record<Side, string | undefined> = {
    long: check.ok && quote ? sideProblem(asset, "long", check.fields, quote) : undefined,
    short: check.ok && quote ? sideProblem(asset, "short", check.fields, quote) : undefined,
  };

  const send = async (side: Side) => {
    if (!check.ok) {
      setError("correct the fields marked above first");
      return;
    }
    const problem = problems[side];
    if (problem) {
      setError(`${side === "long" ? "Buy" : "Sell"}: ${problem}`);
      return;
    }
    const { fields } = check;
    setSending(side);
    setError(undefined);
    try {
      const placed = await placeOrder({
        asset,
        side,
        orderType: fields.orderType,
        margin: fields.margin,
        leverage: fields.leverage,
        ...(fields.slippageBps !== undefined ? { slippage: fields.slippageBps } : {}),
        // the price the trader saw: the engine refuses to fill beyond the slippage from it
        ...(fields.orderType === "market" && quote ? { price: entryPrice(side, quote) } : {}),
        ...(fields.trigger !== undefined ? { triggerPrice: fields.trigger } : {}),
        ...(fields.stopLoss !== undefined ? { stopLoss: fields.stopLoss } : {}),
        ...(fields.takeProfit !== undefined ? { takeProfit: fields.takeProfit } : {}),
      });
      settle((store) => {
        store.placed(placed);
      });
      notify(
        orderNotice(
          placed.kind === "position"
            ? { event: "opened", position: placed.position }
            : { event: "placed", order: placed.order },
        ),
      );
    } catch (failure) {
      setError(`${side === "long" ? "Buy" : "Sell"} failed: ${describeError(failure)}`);
    } finally {
      setSending(undefined);
    }
  };

  const chooseType = (orderType: OrderType) => {
    setError(undefined);
    setInput((current) => ({
      ...current,
      orderType,
      // a trigger to start from: the mid
      trigger:
        orderType !== "market" && current.trigger === "" && quote
          ? formatPrice(asset, quote.price).replaceAll(",", "")
          : current.trigger,
    }));
  };

  const field = (name: TextField, label: string, extra: object = {}, hint?: string) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <input
        id={`${id}-${name}`}
        name={name}
        value={input[name]}
        autoComplete="off"
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={
          [errors[name] ? `${id}-${name}-error` : "", hint ? `${id}-${name}-hint` : ""]
            .join(" ")
            .trim() || undefined
        }
        onChange={(event) => {
          setError(undefined);
          setInput({ ...input, [name]: event.target.value });
        }}
        {...extra}
      />
      {hint && (
        <p className="field-hint" id={`${id}-${name}-hint`}>
          {hint}
        </p>
      )}
      {errors[name] && (
        <p className="field-error" id={`${id}-${name}-error`}>
          {errors[name]}
        </p>
      )}
    </div>
  );

  const sideButton = (side: Side) => {
    const name = side === "long" ? "Buy" : "Sell";
    const problem = problems[side];
    const blocked = sending !== undefined || !check.ok || problem !== undefined;
    return (
      <button
        type="button"
        className={side === "long" ? "buy" : "sell"}
        aria-disabled={blocked ? true : undefined}
        aria-describedby={problem ? `${id}-${side}-problem` : undefined}
        onClick={() => {
          if (sending === undefined) void send(side);
        }}
      >
        {sending === side ? `${name}…` : name}
      </button>
    );
  };

  const pendingType = input.orderType !== "market";
  return (
    <section className="panel ticket" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New order · {asset}/USD</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault(); // Enter never sends an order: only Buy and Sell do
        }}
        noValidate
      >
        <fieldset className="order-types">
          <legend>Order type</legend>
          {ORDER_TYPES.map((orderType) => (
            <label key={orderType} className="segment">
              <input
                type="radio"
                name={`${id}-order-type`}
                value={orderType}
                checked={input.orderType === orderType}
                onChange={() => {
                  chooseType(orderType);
                }}
              />
              <span>{TYPE_LABELS[orderType]}</span>
            </label>
          ))}
        </fieldset>
        {pendingType &&
          field(
            "trigger",
            "Trigger price",
            { inputMode: "decimal" },
            input.orderType === "limit"
              ? "Buy limit below the ask, sell limit above the bid"
              : "Buy stop above the ask, sell stop below the bid",
          )}
        <div className="field-row">
          {field("margin", "Margin (USD)", { inputMode: "decimal" })}
          {field("leverage", "Leverage", {
            type: "number",
            min: LEVERAGE_MIN,
            max: LEVERAGE_MAX,
            step: 1,
            inputMode: "numeric",
          })}
        </div>
        {!pendingType && field("slippage", "Slippage (%)", { inputMode: "decimal" })}
        <div className="field-row">
          {field("stopLoss", "Stop loss", { inputMode: "decimal", placeholder: "none" })}
          {field("takeProfit", "Take profit", { inputMode: "decimal", placeholder: "none" })}
        </div>
        <TicketPreview
          asset={asset}
          fields={check.ok ? check.fields : undefined}
          quote={quote}
          problems={problems}
          problemId={(side) => `${id}-${side}-problem`}
        />
        <div className="sides">
          {sideButton("short")}
          {sideButton("long")}
        </div>
        <p className="muted hint">
          {pendingType
            ? "Sell places a short order, Buy a long one; the margin is reserved until it fills or you cancel it."
            : "Sell opens a short at the bid; Buy opens a long at the ask."}
        </p>
        <ErrorText message={error} />
      </form>
    </section>
  );
}

// What the order would be before it is sent, by the engine's own arithmetic (lib/preview.ts):
// position size, required margin, and per side the entry, the liquidation price and the PnL
// at the stop loss and take profit; and what the engine would refuse on either side.
import type { Side } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { type BidAsk, entries, pnl, previewOrder } from "../../lib/preview";
import { Price, Usd } from "../../shared/Amount";
import type { TicketFields } from "./ticketForm";

interface Props {
  asset: AssetSymbol;
  fields: TicketFields | undefined;
  quote: BidAsk | undefined;
  problems: Record<Side, string | undefined>;
  problemId: (side: Side) => string;
}

const SIDES: readonly Side[] = ["short", "long"];

export function TicketPreview({ asset, fields, quote, problems, problemId }: Props) {
  if (!fields) return <p className="muted preview">Correct the fields above to see the order.</p>;
  const trigger = fields.trigger;
  const at =
    trigger !== undefined ? { long: trigger, short: trigger } : quote ? entries(quote) : undefined;
  if (!at) return <p className="muted preview">No {asset} price yet: the preview waits for one.</p>;
  const preview = previewOrder(fields.margin, fields.leverage, at);
  const outcome = (side: Side, level: bigint | undefined) =>
    level === undefined ? (
      "—"
    ) : (
      <Usd cents={pnl(side, fields.margin, fields.leverage, preview.entry[side], level)} signed />
    );
  return (
    <div className="preview">
      <dl className="facts">
        <dt>Position size</dt>
        <dd>
          <Usd cents={preview.positionSize} />
        </dd>
        <dt>Required margin</dt>
        <dd>
          <Usd cents={preview.requiredMargin} />
        </dd>
      </dl>
      <table className="preview-sides">
        <caption className="visually-hidden">Order preview by side</caption>
        <thead>
          <tr>
            <td />
            <th scope="col">Sell / Short</th>
            <th scope="col">Buy / Long</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">{fields.trigger === undefined ? "Entry" : "Entry at trigger"}</th>
            {SIDES.map((side) => (
              <td key={side}>
                <Price asset={asset} units={preview.entry[side]} />
              </td>
            ))}
          </tr>
          <tr>
            <th scope="row">Liquidation</th>
            {SIDES.map((side) => (
              <td key={side}>
                <Price asset={asset} units={preview.liquidation[side]} />
              </td>
            ))}
          </tr>
          {fields.stopLoss !== undefined && (
            <tr>
              <th scope="row">PnL at stop loss</th>
              {SIDES.map((side) => (
                <td key={side}>{outcome(side, fields.stopLoss)}</td>
              ))}
            </tr>
          )}
          {fields.takeProfit !== undefined && (
            <tr>
              <th scope="row">PnL at take profit</th>
              {SIDES.map((side) => (
                <td key={side}>{outcome(side, fields.takeProfit)}</td>
              ))}
            </tr>
          )}
        </tbody>
      </table>
      {SIDES.map((side) =>
        problems[side] ? (
          <p key={side} className="field-error" id={problemId(side)}>
            {side === "long" ? "Buy" : "Sell"}: {problems[side]}
          </p>
        ) : null,
      )}
    </div>
  );
}

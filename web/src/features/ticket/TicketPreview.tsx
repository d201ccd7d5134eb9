// What the order would be before it is sent: size, margin and each side's liquidation price,
// by the engine's own arithmetic (lib/preview.ts).
import type { AssetSymbol } from "../../lib/assets";
import { previewOrder, type Quote } from "../../lib/preview";
import { Price, Usd } from "../../shared/Amount";
import type { TicketFields } from "./ticketForm";

interface Props {
  asset: AssetSymbol;
  fields: TicketFields | undefined;
  quote: Quote | undefined;
}

export function TicketPreview({ asset, fields, quote }: Props) {
  if (!fields) return <p className="muted preview">Correct the fields above to see the order.</p>;
  if (!quote) {
    return <p className="muted preview">No {asset} price yet: the preview waits for one.</p>;
  }
  const preview = previewOrder(fields.margin, fields.leverage, quote);
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
            <th scope="row">Entry</th>
            <td>
              <Price asset={asset} units={preview.entry.short} />
            </td>
            <td>
              <Price asset={asset} units={preview.entry.long} />
            </td>
          </tr>
          <tr>
            <th scope="row">Liquidation</th>
            <td>
              <Price asset={asset} units={preview.liquidation.short} />
            </td>
            <td>
              <Price asset={asset} units={preview.liquidation.long} />
            </td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

// Open positions with their live PnL and a Close button each. §7 adds partial close and
// SL/TP editing per row, and a "Pending orders" table beside this one.
import { useState } from "react";
import { closePosition, describeError, type ClosedPosition, type OpenPosition } from "../../api";
import { ASSETS } from "../../lib/assets";
import { formatPrice, formatUsd } from "../../lib/money";
import { Price, Usd } from "../../shared/Amount";
import { ErrorText } from "../../shared/ErrorText";
import { useNotify } from "../../shared/notices";

interface Props {
  positions: readonly OpenPosition[] | undefined;
  error: string | undefined;
  onClosed: (closed: ClosedPosition) => void;
}

export function OpenPositions({ positions, error, onClosed }: Props) {
  const [closing, setClosing] = useState<string>();
  const [closeError, setCloseError] = useState<string>();
  const notify = useNotify();

  const close = async (position: OpenPosition) => {
    setClosing(position.orderId);
    setCloseError(undefined);
    try {
      const closed = await closePosition(position.orderId, position.asset);
      notify(
        `Closed ${position.side} ${position.asset} at ${formatPrice(position.asset, closed.closePrice)}: ` +
          `PnL ${formatUsd(closed.pnl, { signed: true })}`,
        closed.pnl < 0n ? "loss" : "gain",
      );
      onClosed(closed);
    } catch (failure) {
      setCloseError(
        `Could not close the ${position.asset} ${position.side}: ${describeError(failure)}`,
      );
    } finally {
      setClosing(undefined);
    }
  };

  return (
    <section className="panel positions" aria-label="Positions">
      <ErrorText message={closeError ?? error} />
      <div
        className="table-scroll"
        tabIndex={0}
        role="region"
        aria-labelledby="open-positions-caption"
      >
        <table>
          <caption id="open-positions-caption">Open positions</caption>
          <thead>
            <tr>
              <th scope="col">Market</th>
              <th scope="col">Side</th>
              <th scope="col" className="num">
                PnL
              </th>
              <th scope="col" className="num">
                Margin
              </th>
              <th scope="col" className="num">
                Leverage
              </th>
              <th scope="col" className="num">
                Entry
              </th>
              <th scope="col" className="num">
                Current
              </th>
              <th scope="col" className="num">
                Liquidation
              </th>
              <th scope="col" className="sticky-end">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {positions?.length === 0 && (
              <tr>
                <td colSpan={9} className="muted">
                  No open positions.
                </td>
              </tr>
            )}
            {positions?.map((position) => {
              const rowId = `position-${position.orderId}`;
              return (
                <tr key={position.orderId}>
                  <th scope="row" id={rowId}>
                    {position.asset}/USD
                    <span className="visually-hidden">
                      {` ${position.side} ${position.leverage}x, ${ASSETS[position.asset].name}`}
                    </span>
                  </th>
                  <td className={position.side === "long" ? "gain" : "loss"}>{position.side}</td>
                  <td className="num">
                    {position.pnl === null ? "—" : <Usd cents={position.pnl} signed />}
                  </td>
                  <td className="num">
                    <Usd cents={position.margin} />
                  </td>
                  <td className="num">{position.leverage}x</td>
                  <td className="num">
                    <Price asset={position.asset} units={position.openPrice} />
                  </td>
                  <td className="num">
                    <Price asset={position.asset} units={position.currentPrice} />
                  </td>
                  <td className="num">
                    <Price asset={position.asset} units={position.liquidationPrice} />
                  </td>
                  <td className="sticky-end">
                    <button
                      type="button"
                      className="close"
                      aria-describedby={rowId}
                      disabled={closing === position.orderId}
                      onClick={() => {
                        void close(position);
                      }}
                    >
                      Close
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// Open positions, each valued live at the quote (a long at the bid, a short at the ask,
// exactly: lib/account.ts), with Close, a partial close (a margin amount) and SL/TP editing.
import { useState } from "react";
import { closePosition, describeError, type OpenPosition } from "../../api";
import { ASSETS } from "../../lib/assets";
import { livePnl } from "../../lib/account";
import { exitPrice } from "../../lib/preview";
import { useSettle, useTerminal } from "../../live/LiveProvider";
import { closeNotice } from "../../live/orderText";
import { Price, Usd } from "../../shared/Amount";
import { ErrorText } from "../../shared/ErrorText";
import { StatusRow } from "../../shared/StatusRow";
import { useNotify } from "../../shared/notices";
import { LevelsDialog } from "./LevelsDialog";
import { PartialCloseDialog } from "./PartialCloseDialog";

type Editing = { kind: "levels" | "part"; orderId: string } | undefined;

export function OpenPositions() {
  const positions = useTerminal((state) => state.positions);
  const quotes = useTerminal((state) => state.quotes);
  const loadError = useTerminal((state) => state.error);
  const [closing, setClosing] = useState<string>();
  const [closeError, setCloseError] = useState<string>();
  const [editing, setEditing] = useState<Editing>();
  const notify = useNotify();
  const settle = useSettle();

  const close = async (position: OpenPosition) => {
    setClosing(position.orderId);
    setCloseError(undefined);
    try {
      const closed = await closePosition(position.orderId);
      settle((store) => {
        store.closed(closed);
      });
      notify(closeNotice(closed));
    } catch (failure) {
      setCloseError(
        `Could not close the ${position.asset} ${position.side}: ${describeError(failure)}`,
      );
    } finally {
      setClosing(undefined);
    }
  };

  const edited = positions?.find((position) => position.orderId === editing?.orderId);
  return (
    <section className="positions" aria-label="Positions">
      <ErrorText message={closeError ?? (positions === undefined ? loadError : undefined)} />
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
              <th scope="col" className="num">
                Stop loss
              </th>
              <th scope="col" className="num">
                Take profit
              </th>
              <th scope="col" className="sticky-end">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <StatusRow
              rows={positions}
              columns={11}
              loading="Loading your positions…"
              empty="No open positions."
            />
            {positions?.map((position) => {
              const rowId = `position-${position.orderId}`;
              const quote = quotes[position.asset];
              const current = quote ? exitPrice(position.side, quote) : position.currentPrice;
              const pnl = quote ? livePnl(position, quote) : position.pnl;
              return (
                <tr key={position.orderId} data-order-id={position.orderId}>
                  <th scope="row" id={rowId}>
                    {position.asset}/USD
                    <span className="visually-hidden">
                      {` ${position.side} ${position.leverage}x, ${ASSETS[position.asset].name}`}
                    </span>
                  </th>
                  <td className={position.side === "long" ? "gain" : "loss"}>{position.side}</td>
                  <td className="num" data-testid="pnl">
                    {pnl === null ? "—" : <Usd cents={pnl} signed />}
                  </td>
                  <td className="num">
                    <Usd cents={position.margin} />
                  </td>
                  <td className="num">{position.leverage}x</td>
                  <td className="num">
                    <Price asset={position.asset} units={position.openPrice} />
                  </td>
                  <td className="num">
                    <Price asset={position.asset} units={current} />
                  </td>
                  <td className="num">
                    <Price asset={position.asset} units={position.liquidationPrice} />
                  </td>
                  <td className="num">
                    <Price asset={position.asset} units={position.stopLoss} />
                  </td>
                  <td className="num">
                    <Price asset={position.asset} units={position.takeProfit} />
                  </td>
                  <td className="sticky-end actions">
                    <button
                      type="button"
                      className="small"
                      aria-describedby={rowId}
                      onClick={() => {
                        setEditing({ kind: "levels", orderId: position.orderId });
                      }}
                    >
                      Edit SL/TP
                    </button>
                    <button
                      type="button"
                      className="small"
                      aria-describedby={rowId}
                      onClick={() => {
                        setEditing({ kind: "part", orderId: position.orderId });
                      }}
                    >
                      Partial close
                    </button>
                    <button
                      type="button"
                      className="small close"
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
      {editing?.kind === "levels" && edited && (
        <LevelsDialog
          target={{ kind: "position", position: edited }}
          onClose={() => {
            setEditing(undefined);
          }}
        />
      )}
      {editing?.kind === "part" && edited && (
        <PartialCloseDialog
          position={edited}
          onClose={() => {
            setEditing(undefined);
          }}
        />
      )}
    </section>
  );
}

// The account bar (SPEC §7.6, §9): balance, equity, used margin, free margin, margin level.
// Balances come from GET /account and the socket's `account` messages; unrealized PnL (and so
// equity, free margin and margin level) moves with every quote in between, computed here
// exactly as the engine does (lib/account.ts), until a quote is missing: then the server's.
import { formatUnits } from "../../lib/decimal";
import { accountView, type QuoteBook } from "../../lib/account";
import { useTerminal } from "../../live/LiveProvider";
import { Usd } from "../../shared/Amount";
import { ErrorText } from "../../shared/ErrorText";

export function AccountBar() {
  const account = useTerminal((state) => state.account);
  const positions = useTerminal((state) => state.positions);
  const quotes: QuoteBook = useTerminal((state) => state.quotes);
  const error = useTerminal((state) => state.error);
  const view = account && accountView(account, positions ?? [], quotes);
  const money = (cents: bigint | undefined, signed = false) =>
    cents === undefined ? "—" : <Usd cents={cents} signed={signed} />;
  return (
    <section className="account-bar" aria-label="Account">
      <dl className="account-facts">
        <div>
          <dt>Balance</dt>
          <dd data-testid="balance">{money(view?.balance)}</dd>
        </div>
        <div>
          <dt>Equity</dt>
          <dd data-testid="equity">{money(view?.equity)}</dd>
        </div>
        <div>
          <dt>Used margin</dt>
          <dd>{money(view?.usedMargin)}</dd>
        </div>
        {view !== undefined && view.reserved > 0n && (
          <div>
            <dt>Reserved</dt>
            <dd>{money(view.reserved)}</dd>
          </div>
        )}
        <div>
          <dt>Free margin</dt>
          <dd>{money(view?.freeMargin)}</dd>
        </div>
        <div>
          <dt>Margin level</dt>
          <dd className="num">
            {view?.marginLevel == null
              ? "—"
              : `${formatUnits(view.marginLevel, 2, { group: true })} %`}
          </dd>
        </div>
        <div>
          <dt>
            Unrealized PnL
            {view && !view.live && (
              <span className="visually-hidden"> (as of the server's last account)</span>
            )}
          </dt>
          <dd data-testid="unrealized">{money(view?.unrealizedPnl, true)}</dd>
        </div>
      </dl>
      <ErrorText message={error} />
    </section>
  );
}

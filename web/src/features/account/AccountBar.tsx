// The account bar. Today: the free balance (GET /balance/usd). §7.6 adds equity, used margin,
// free margin and margin level from GET /account (api/wallet.ts `account()`), live over §8.
import { Usd } from "../../shared/Amount";
import { ErrorText } from "../../shared/ErrorText";

interface Props {
  balance: bigint | undefined;
  error: string | undefined;
}

export function AccountBar({ balance, error }: Props) {
  return (
    <section className="account-bar" aria-label="Account">
      <dl className="facts inline">
        <dt>Balance</dt>
        <dd data-testid="balance">{balance === undefined ? "—" : <Usd cents={balance} />}</dd>
      </dl>
      <ErrorText message={error} />
    </section>
  );
}

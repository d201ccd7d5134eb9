// Balances and the account summary, live from the engine.
import { request } from "./http";
import type { Account } from "./types";
import { decimal, integer, nullable, object, smallInteger, type WireObject } from "./wire";

/** The free USD balance in cents; a 401 here means "not signed in". */
export async function usdBalance(signal?: AbortSignal): Promise<bigint> {
  const body = object(await request("GET", "/balance/usd", signal ? { signal } : {}));
  return integer(body, "balance");
}

/** GET /account (SPEC §7.6): balance, reserved, used margin, unrealized PnL, equity. */
export async function account(signal?: AbortSignal): Promise<Account> {
  return readAccount(object(await request("GET", "/account", signal ? { signal } : {})));
}

/** The §7.6 body; the socket's `account` messages carry the same one. */
export function readAccount(body: WireObject): Account {
  return {
    balance: integer(body, "balance"),
    reserved: integer(body, "reserved"),
    usedMargin: integer(body, "usedMargin"),
    unrealizedPnl: integer(body, "unrealizedPnl"),
    equity: integer(body, "equity"),
    marginLevel: nullable(body, "marginLevel", (source, key) => decimal(source, key, 2)),
    openPositions: smallInteger(body, "openPositions"),
    pendingOrders: smallInteger(body, "pendingOrders"),
  };
}

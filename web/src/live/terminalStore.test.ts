// The trader's live state: REST loads, live events and the answers of the trader's actions,
// in any order, end in the same state; nothing heard during a load is lost under it.
import { describe, expect, it } from "vitest";
import type { Account, Close, OpenPosition, PendingOrder, Quote } from "../api";
import { type Loaders, TerminalStore } from "./terminalStore";

const position = (orderId: string, margin = 1000n): OpenPosition => ({
  orderId,
  asset: "SOL",
  side: "long",
  margin,
  leverage: 10,
  openPrice: 150_000_000n,
  liquidationPrice: 135_000_000n,
  stopLoss: null,
  takeProfit: null,
  currentPrice: null,
  pnl: null,
  openedAt: "t",
});

const order = (orderId: string): PendingOrder => ({
  orderId,
  asset: "SOL",
  side: "long",
  orderType: "limit",
  triggerPrice: 140_000_000n,
  margin: 500n,
  leverage: 5,
  stopLoss: null,
  takeProfit: null,
  placedAt: "t",
});

const account = (balance: bigint): Account => ({
  balance,
  reserved: 0n,
  usedMargin: 0n,
  unrealizedPnl: 0n,
  equity: balance,
  marginLevel: null,
  openPositions: 0,
  pendingOrders: 0,
});

const close = (orderId: string, remaining: bigint): Close => ({
  orderId,
  asset: "SOL",
  side: "long",
  leverage: 10,
  openPrice: 150_000_000n,
  liquidationPrice: 135_000_000n,
  margin: 1000n,
  closedMargin: 1000n - remaining,
  remainingMargin: remaining,
  status: remaining > 0n ? "open" : "closed",
  closePrice: 151_000_000n,
  pnl: 67n,
  reason: "manual",
  liquidated: false,
  closedAt: "c",
});

const quote = (asset: Quote["asset"], bid: bigint, ts: bigint | null = null): Quote => ({
  asset,
  bid,
  ask: bid,
  price: bid,
  ts,
});

/** Loaders answering when told to. */
function deferredLoaders() {
  const resolvers: (() => void)[] = [];
  let positions: OpenPosition[] = [];
  let pending: PendingOrder[] = [];
  let quotes: Quote[] = [];
  const later = <T>(value: () => T) =>
    new Promise<T>((resolve) => {
      resolvers.push(() => {
        resolve(value());
      });
    });
  const loaders: Loaders = {
    positions: () => later(() => positions),
    pending: () => later(() => pending),
    account: () => later(() => account(1n)),
    quotes: () => later(() => quotes),
  };
  return {
    loaders,
    set(next: { positions?: OpenPosition[]; pending?: PendingOrder[]; quotes?: Quote[] }) {
      positions = next.positions ?? positions;
      pending = next.pending ?? pending;
      quotes = next.quotes ?? quotes;
    },
    async answerAll() {
      resolvers.splice(0).forEach((resolve) => {
        resolve();
      });
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

describe("TerminalStore", () => {
  it("loads over REST", async () => {
    const rest = deferredLoaders();
    const store = new TerminalStore(rest.loaders);
    rest.set({ positions: [position("a")], pending: [order("p")], quotes: [quote("SOL", 5n)] });
    const loading = store.reload();
    expect(store.getState().positions).toBeUndefined();
    await rest.answerAll();
    await loading;
    expect(store.getState()).toMatchObject({
      positions: [{ orderId: "a" }],
      pending: [{ orderId: "p" }],
      account: { balance: 1n },
      quotes: { SOL: { bid: 5n } },
      error: undefined,
    });
  });

  it("applies again what was heard while a load was in flight", async () => {
    const rest = deferredLoaders();
    const store = new TerminalStore(rest.loaders);
    rest.set({ positions: [position("a")] }); // the snapshot before "b" opened and "a" closed
    const loading = store.reload();
    store.handle({ kind: "order", order: { event: "opened", position: position("b") } });
    store.handle({ kind: "order", order: { event: "closed", close: close("a", 0n) } });
    store.handle({ kind: "account", account: account(99n) });
    await rest.answerAll();
    await loading;
    expect(store.getState().positions?.map((p) => p.orderId)).toEqual(["b"]);
    expect(store.getState().account?.balance).toBe(99n);
  });

  it("never brings back an order that is over", async () => {
    const rest = deferredLoaders();
    const store = new TerminalStore(rest.loaders);
    rest.set({ positions: [position("a")], pending: [order("p")] });
    // the TP fired before the answer of the open arrived
    store.handle({ kind: "order", order: { event: "closed", close: close("a", 0n) } });
    store.placed({ kind: "position", position: position("a"), balance: 0n });
    store.handle({ kind: "order", order: { event: "filled", position: position("p") } });
    store.placed({ kind: "pending", order: order("p"), balance: 0n }); // late answer
    // a REST snapshot taken after the fill, but with the close not yet written anywhere it
    // reads, and the filled order still listed as pending
    rest.set({ positions: [position("a"), position("p")], pending: [order("p")] });
    const loading = store.reload();
    await rest.answerAll();
    await loading;
    expect(store.getState().positions?.map((p) => p.orderId)).toEqual(["p"]);
    expect(store.getState().pending).toEqual([]);
  });

  it("a partial close leaves the rest; the whole close removes it; once", () => {
    const store = new TerminalStore(deferredLoaders().loaders);
    store.placed({ kind: "position", position: position("a", 3000n), balance: 0n });
    store.closed({ ...close("a", 2000n), margin: 3000n });
    expect(store.getState().positions?.[0]?.margin).toBe(2000n);
    // the same close heard live again: no change
    store.handle({
      kind: "order",
      order: { event: "closed", close: { ...close("a", 2000n), margin: 3000n } },
    });
    expect(store.getState().positions?.[0]?.margin).toBe(2000n);
    store.closed(close("a", 0n));
    expect(store.getState().positions).toEqual([]);
  });

  it("modifies, places and cancels", () => {
    const store = new TerminalStore(deferredLoaders().loaders);
    store.placed({ kind: "position", position: position("a"), balance: 0n });
    store.modified({ kind: "position", position: { ...position("a"), stopLoss: 140_000_000n } });
    expect(store.getState().positions?.[0]?.stopLoss).toBe(140_000_000n);
    store.placed({ kind: "pending", order: order("p"), balance: 0n });
    store.modified({ kind: "pending", order: { ...order("p"), takeProfit: 1n } });
    expect(store.getState().pending?.[0]?.takeProfit).toBe(1n);
    store.cancelled(order("p"));
    expect(store.getState().pending).toEqual([]);
    store.placed({ kind: "pending", order: order("p"), balance: 0n }); // a late replay
    expect(store.getState().pending).toEqual([]);
  });

  it("keeps the newest quote of each asset; REST only fills what the socket has not", async () => {
    const rest = deferredLoaders();
    const store = new TerminalStore(rest.loaders);
    store.handle({ kind: "quote", quote: quote("SOL", 10n, 200n) });
    store.handle({ kind: "quote", quote: quote("SOL", 9n, 100n) }); // older: ignored
    expect(store.getState().quotes.SOL?.bid).toBe(10n);
    rest.set({ quotes: [quote("SOL", 8n, 150n), quote("ETH", 7n, 1n)] });
    const loading = store.reload();
    await rest.answerAll();
    await loading;
    expect(store.getState().quotes.SOL?.bid).toBe(10n);
    expect(store.getState().quotes.ETH?.bid).toBe(7n);
  });

  it("says why a load failed, and keeps what it had", async () => {
    const store = new TerminalStore({
      positions: () => Promise.reject(new Error("cannot reach the server")),
      pending: () => Promise.resolve([]),
      account: () => Promise.resolve(account(1n)),
      quotes: () => Promise.resolve([]),
    });
    store.placed({ kind: "position", position: position("a"), balance: 0n });
    await store.reload();
    expect(store.getState().error).toBe("cannot reach the server");
    expect(store.getState().positions?.map((p) => p.orderId)).toEqual(["a"]);
  });

  it("a newer load replaces one in flight", async () => {
    const rest = deferredLoaders();
    const store = new TerminalStore(rest.loaders);
    rest.set({ positions: [position("old")] });
    const first = store.reload();
    const second = store.reload();
    rest.set({ positions: [position("new")] });
    await rest.answerAll();
    await Promise.all([first, second]);
    expect(store.getState().positions?.map((p) => p.orderId)).toEqual(["new"]);
  });

  it("tells its listeners about live order events, and moves the history", () => {
    const store = new TerminalStore(deferredLoaders().loaders);
    const heard: string[] = [];
    const stop = store.onOrderEvent((event) => heard.push(event.event));
    const before = store.getState().historyVersion;
    store.handle({ kind: "order", order: { event: "placed", order: order("p") } });
    stop();
    store.handle({ kind: "order", order: { event: "cancelled", order: order("p") } });
    expect(heard).toEqual(["placed"]);
    expect(store.getState().historyVersion).toBe(before + 2);
  });
});

// The trader's live state: quotes, open positions, pending orders and the §7.6 account.
// REST is the source of truth (loaded at start and on every resync); the socket's events
// keep it current in between, and so do the answers of the trader's own actions (so the
// screen moves at once, and still moves when the socket is down).
//
// Events are upserts and removals by order id, so applying one twice (its HTTP answer and its
// live event) is harmless. A REST load races the socket: events that arrive while it is in
// flight are kept and applied again on top of its result, in order, so none is lost under it.
// An order once closed, cancelled or filled is never brought back by a late message.
import type {
  Account,
  AssetSymbol,
  Close,
  LiveEvent,
  Modified,
  OpenPosition,
  OrderEvent,
  PendingOrder,
  Placed,
  Quote,
} from "../api";
import { describeError } from "../api";

export type Quotes = Partial<Record<AssetSymbol, Quote>>;

export interface TerminalState {
  quotes: Quotes;
  /** undefined until first loaded */
  positions: readonly OpenPosition[] | undefined;
  pending: readonly PendingOrder[] | undefined;
  account: Account | undefined;
  /** the last REST load's failure, in words */
  error: string | undefined;
  /** counts order events and reloads: history screens reload when it moves */
  historyVersion: number;
}

export interface Loaders {
  positions(signal: AbortSignal): Promise<OpenPosition[]>;
  pending(signal: AbortSignal): Promise<PendingOrder[]>;
  account(signal: AbortSignal): Promise<Account>;
  quotes(signal: AbortSignal): Promise<Quote[]>;
}

type Update = { kind: "order"; order: OrderEvent } | { kind: "account"; account: Account };

export class TerminalStore {
  private state: TerminalState = {
    quotes: {},
    positions: undefined,
    pending: undefined,
    account: undefined,
    error: undefined,
    historyVersion: 0,
  };
  private readonly listeners = new Set<() => void>();
  /** orders that are over (closed, cancelled, or pending ones filled): never re-added */
  private readonly ended = new Set<string>();
  private readonly endedPending = new Set<string>();
  /** updates heard while a REST load is in flight, applied again on top of it */
  private buffered: Update[] | undefined;
  private loading: AbortController | undefined;

  private readonly orderListeners = new Set<(event: OrderEvent) => void>();

  constructor(private readonly loaders: Loaders) {}

  /** Hear every order event that arrives live (for toasts). */
  onOrderEvent(listener: (event: OrderEvent) => void): () => void {
    this.orderListeners.add(listener);
    return () => {
      this.orderListeners.delete(listener);
    };
  }

  getState = (): TerminalState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  private set(patch: Partial<TerminalState>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((listener) => {
      listener();
    });
  }

  /** Load everything over REST; a load already in flight is replaced by this one. */
  async reload(): Promise<void> {
    this.loading?.abort();
    const abort = new AbortController();
    const buffer: Update[] = [];
    this.loading = abort;
    this.buffered = buffer;
    const { signal } = abort;
    const quotes = this.loaders.quotes(signal).then(
      (list) => {
        if (!signal.aborted) this.fillQuotes(list);
      },
      () => undefined, // the socket brings them too
    );
    let loaded: Partial<TerminalState>;
    try {
      const [positions, pending, account] = await Promise.all([
        this.loaders.positions(signal),
        this.loaders.pending(signal),
        this.loaders.account(signal),
      ]);
      loaded = {
        positions: positions.filter((position) => !this.ended.has(position.orderId)),
        pending: pending.filter((order) => !this.endedPending.has(order.orderId)),
        account,
        error: undefined,
        historyVersion: this.state.historyVersion + 1,
      };
    } catch (failure) {
      loaded = { error: describeError(failure) };
    }
    if (signal.aborted) return;
    this.buffered = undefined;
    this.loading = undefined;
    this.set(loaded);
    buffer.forEach((update) => {
      this.apply(update);
    });
    await quotes;
  }

  stop(): void {
    this.loading?.abort();
  }

  /** A live message, read (api/live.ts). */
  handle(event: LiveEvent): void {
    switch (event.kind) {
      case "quote":
        this.setQuote(event.quote);
        return;
      case "account":
        this.update({ kind: "account", account: event.account });
        return;
      case "order":
        this.orderListeners.forEach((listener) => {
          listener(event.order);
        });
        this.update({ kind: "order", order: event.order });
        return;
      case "candle":
        return; // the chart listens to its own channel
    }
  }

  // ---- the answers of the trader's own actions --------------------------------------------

  placed(placed: Placed): void {
    this.update({
      kind: "order",
      order:
        placed.kind === "position"
          ? { event: "opened", position: placed.position }
          : { event: "placed", order: placed.order },
    });
  }

  closed(close: Close): void {
    this.update({ kind: "order", order: { event: "closed", close } });
  }

  modified(modified: Modified): void {
    this.update({
      kind: "order",
      order:
        modified.kind === "position"
          ? { event: "modified", position: modified.position }
          : { event: "modified", order: modified.order },
    });
  }

  cancelled(order: PendingOrder): void {
    this.update({ kind: "order", order: { event: "cancelled", order } });
  }

  // ---- applying ---------------------------------------------------------------------------

  private update(update: Update): void {
    this.buffered?.push(update);
    this.apply(update);
  }

  private apply(update: Update): void {
    if (update.kind === "account") {
      this.set({ account: update.account });
      return;
    }
    const event = update.order;
    const history = { historyVersion: this.state.historyVersion + 1 };
    switch (event.event) {
      case "opened":
      case "filled": {
        const id = event.position.orderId;
        this.endedPending.add(id);
        this.set({
          positions: this.ended.has(id)
            ? this.state.positions
            : upsert(this.state.positions, event.position),
          pending: remove(this.state.pending, id),
          ...history,
        });
        return;
      }
      case "placed":
        if (this.endedPending.has(event.order.orderId)) return;
        this.set({ pending: upsert(this.state.pending, event.order), ...history });
        return;
      case "cancelled":
        this.endedPending.add(event.order.orderId);
        this.set({ pending: remove(this.state.pending, event.order.orderId), ...history });
        return;
      case "modified":
        if ("position" in event) {
          if (this.ended.has(event.position.orderId)) return;
          this.set({ positions: replace(this.state.positions, event.position) });
        } else {
          if (this.endedPending.has(event.order.orderId)) return;
          this.set({ pending: replace(this.state.pending, event.order) });
        }
        return;
      case "closed": {
        const close = event.close;
        if (close.status === "closed") {
          this.ended.add(close.orderId);
          this.set({ positions: remove(this.state.positions, close.orderId), ...history });
          return;
        }
        const positions = this.state.positions?.map((position) =>
          position.orderId === close.orderId && position.margin > close.remainingMargin
            ? { ...position, margin: close.remainingMargin, pnl: null, currentPrice: null }
            : position,
        );
        this.set({ ...(positions ? { positions } : {}), ...history });
        return;
      }
    }
  }

  private setQuote(quote: Quote): void {
    const previous = this.state.quotes[quote.asset];
    const older = previous?.ts != null && quote.ts !== null && quote.ts < previous.ts;
    if (older) return;
    this.set({ quotes: { ...this.state.quotes, [quote.asset]: quote } });
  }

  /** Quotes from REST: only where the socket has not brought a newer one. */
  private fillQuotes(list: readonly Quote[]): void {
    const quotes = { ...this.state.quotes };
    let changed = false;
    for (const quote of list) {
      const live = quotes[quote.asset];
      if (live && (live.ts === null || quote.ts === null || live.ts >= quote.ts)) continue;
      quotes[quote.asset] = quote;
      changed = true;
    }
    if (changed) this.set({ quotes });
  }
}

interface Keyed {
  orderId: string;
}

function upsert<T extends Keyed>(list: readonly T[] | undefined, item: T): readonly T[] {
  if (!list) return [item];
  const index = list.findIndex((existing) => existing.orderId === item.orderId);
  if (index < 0) return [...list, item];
  return list.map((existing, i) => (i === index ? item : existing));
}

function replace<T extends Keyed>(
  list: readonly T[] | undefined,
  item: T,
): readonly T[] | undefined {
  if (!list?.some((existing) => existing.orderId === item.orderId)) return list;
  return list.map((existing) => (existing.orderId === item.orderId ? item : existing));
}

function remove<T extends Keyed>(
  list: readonly T[] | undefined,
  orderId: string,
): readonly T[] | undefined {
  if (!list?.some((existing) => existing.orderId === orderId)) return list;
  return list.filter((existing) => existing.orderId !== orderId);
}

// The live side of the signed-in app: one socket (LiveHub), one store of the trader's state
// (TerminalStore), and the hooks the screens read them with. Live data comes over §8, not by
// polling: REST loads the state at start and again whenever the socket says it may have
// missed something (a fresh subscription, `resync`, a gap).
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useEffectEvent,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import {
  account,
  accountChannel,
  type LiveMessage,
  openPositions,
  pendingOrders,
  quotes,
  quotesChannel,
  readLiveEvent,
} from "../api";
import { useNotify } from "../shared/notices";
import { browserSocket, type Connection, LiveHub, type SocketFactory } from "./hub";
import { orderNotice } from "./orderText";
import { type Loaders, type TerminalState, TerminalStore } from "./terminalStore";

interface Live {
  hub: LiveHub;
  store: TerminalStore;
}

const LiveContext = createContext<Live | undefined>(undefined);

const restLoaders: Loaders = {
  positions: openPositions,
  pending: pendingOrders,
  account,
  quotes,
};

/** A message read into an event; one this client cannot read is skipped, not fatal. */
function read(message: LiveMessage) {
  try {
    return readLiveEvent(message);
  } catch {
    return undefined;
  }
}

export function LiveProvider({
  children,
  factory,
}: {
  children: ReactNode;
  factory?: SocketFactory;
}) {
  const notify = useNotify();
  const [live] = useState<Live>(() => ({
    hub: new LiveHub(factory ?? browserSocket(), [quotesChannel, accountChannel]),
    store: new TerminalStore(restLoaders),
  }));

  useEffect(
    () =>
      live.store.onOrderEvent((event) => {
        notify(orderNotice(event));
      }),
    [live, notify],
  );

  useEffect(() => {
    const { hub, store } = live;
    const deliver = (message: LiveMessage) => {
      const event = read(message);
      if (event) store.handle(event);
    };
    const stops = [
      hub.listen(quotesChannel, deliver),
      hub.listen(accountChannel, deliver),
      hub.onResync(() => void store.reload()),
      // a refusal of the private channel may mean the session ended: REST finds out (401)
      hub.onConnection((connection) => {
        if (connection.serverError !== undefined) void store.reload();
      }),
    ];
    const online = () => {
      hub.retryNow();
    };
    window.addEventListener("online", online);
    hub.start();
    void store.reload();
    return () => {
      window.removeEventListener("online", online);
      stops.forEach((stop) => {
        stop();
      });
      hub.stop();
      store.stop();
    };
  }, [live]);

  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error("useLive outside LiveProvider");
  return live;
}

/** A slice of the trader's live state; `select` must return a stable value for a state. */
export function useTerminal<T>(select: (state: TerminalState) => T): T {
  const { store } = useLive();
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}

export function useConnection(): Connection {
  const { hub } = useLive();
  return useSyncExternalStore(
    (onChange) => hub.onConnection(onChange),
    () => hub.connection,
  );
}

/** Hear `channel` while mounted (undefined: nothing). */
export function useChannel(channel: string | undefined, onMessage: (message: LiveMessage) => void) {
  const { hub } = useLive();
  const handle = useEffectEvent(onMessage);
  useEffect(() => {
    if (channel === undefined) return;
    return hub.listen(channel, (message) => {
      handle(message);
    });
  }, [hub, channel]);
}

/** Called when a lost connection is back (what it does not replay, reload). */
export function useReconnected(onReconnected: () => void) {
  const { hub } = useLive();
  const handle = useEffectEvent(onReconnected);
  useEffect(
    () =>
      hub.onReconnected(() => {
        handle();
      }),
    [hub],
  );
}

/**
 * Apply the answer of the trader's own action to the store at once (its live event will
 * agree), and, while the socket is down, reload over REST so the account follows too.
 */
export function useSettle(): (apply: (store: TerminalStore) => void) => void {
  const { hub, store } = useLive();
  return useCallback(
    (apply) => {
      apply(store);
      if (hub.connection.state !== "open") void store.reload();
    },
    [hub, store],
  );
}

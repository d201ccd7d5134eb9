// One live socket for the whole app (SPEC §8), shared by every screen: each listens to the
// channels it shows, and a channel is subscribed while anyone listens to it (counted), so
// two screens on the same candles share one subscription. Also: the connection's state for
// the "reconnecting" banner, and the moments the screens must reload over REST.
import { LiveSocket, type LiveMessage, type ResyncReason, type SocketState } from "../api";
import type { LiveHandlers, LiveOptions } from "../api/socket";

export interface Connection {
  state: SocketState;
  /** why it is down, in words */
  detail: string | undefined;
  /** the server's last refusal of something we sent, in words */
  serverError: string | undefined;
}

type Listener<T> = (value: T) => void;

/** What the hub needs of LiveSocket (a fake in tests). */
export interface SocketControl {
  start(): void;
  stop(): void;
  subscribe(channels: readonly string[]): void;
  unsubscribe(channels: readonly string[]): void;
  retryNow(): void;
}

export type SocketFactory = (handlers: LiveHandlers, channels: readonly string[]) => SocketControl;

export const browserSocket =
  (options: Omit<LiveOptions, "channels"> = {}): SocketFactory =>
  (handlers, channels) =>
    new LiveSocket(handlers, { ...options, channels });

class Listeners<T> {
  private readonly set = new Set<Listener<T>>();
  add(listener: Listener<T>): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }
  emit(value: T): void {
    for (const listener of [...this.set]) listener(value);
  }
}

export class LiveHub {
  private readonly socket: SocketControl;
  private readonly byChannel = new Map<string, Set<Listener<LiveMessage>>>();
  private readonly permanent: ReadonlySet<string>;
  private readonly resyncs = new Listeners<ResyncReason>();
  private readonly reconnects = new Listeners<readonly string[]>();
  private readonly connectionListeners = new Listeners<Connection>();
  private current: Connection = { state: "closed", detail: undefined, serverError: undefined };

  /** `permanent` channels (quotes, account) stay subscribed for the hub's whole life. */
  constructor(factory: SocketFactory, permanent: readonly string[]) {
    this.permanent = new Set(permanent);
    this.socket = factory(
      {
        onMessage: (message) => {
          this.byChannel.get(message.channel)?.forEach((listener) => {
            listener(message);
          });
        },
        onResync: (reason) => {
          this.resyncs.emit(reason);
        },
        onState: (state, detail) => {
          this.setConnection({
            ...this.current,
            state,
            detail: state === "open" ? undefined : detail,
          });
        },
        onServerError: (message) => {
          this.setConnection({ ...this.current, serverError: message });
        },
        onSubscribed: (channels, reconnected) => {
          if (this.current.serverError !== undefined) {
            this.setConnection({ ...this.current, serverError: undefined });
          }
          if (reconnected) this.reconnects.emit(channels);
        },
      },
      permanent,
    );
  }

  get connection(): Connection {
    return this.current;
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  retryNow(): void {
    this.socket.retryNow();
  }

  /** Hear every message of `channel`; the channel is subscribed while someone listens. */
  listen(channel: string, listener: Listener<LiveMessage>): () => void {
    let listeners = this.byChannel.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.byChannel.set(channel, listeners);
      if (!this.permanent.has(channel)) this.socket.subscribe([channel]);
    }
    listeners.add(listener);
    return () => {
      const current = this.byChannel.get(channel);
      if (!current?.delete(listener) || current.size > 0) return;
      this.byChannel.delete(channel);
      if (!this.permanent.has(channel)) this.socket.unsubscribe([channel]);
    };
  }

  /** Reload the trader's state over REST when this fires. */
  onResync(listener: Listener<ResyncReason>): () => void {
    return this.resyncs.add(listener);
  }

  /** A reconnection is subscribed again: reload what the socket does not replay (candles). */
  onReconnected(listener: Listener<readonly string[]>): () => void {
    return this.reconnects.add(listener);
  }

  onConnection(listener: Listener<Connection>): () => void {
    return this.connectionListeners.add(listener);
  }

  private setConnection(next: Connection): void {
    this.current = next;
    this.connectionListeners.emit(next);
  }
}

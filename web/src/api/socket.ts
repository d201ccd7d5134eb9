// The live connection of SPEC §8 (GET /api/v1/ws): subscribe, keep it alive, reconnect with
// backoff, and never lose a private event. The protocol is here and only here; what the
// data messages mean is read by live.ts.
//
// Frames (JSON text), as the server speaks them (services/server/live/protocol.py):
//   → {"op":"subscribe","channels":[...],"since":<traderSeq>?}   ("since" with "account" only)
//   → {"op":"unsubscribe","channels":[...]}   {"op":"ping"}
//   ← data: {"seq":12,"channel":"quotes",...}   private: {"seq":13,"traderSeq":40,
//            "channel":"account","type":"order"|"account",...}
//   ← {"type":"subscribed","channels":[...]}   {"type":"unsubscribed",...}   {"type":"pong"}
//   ← {"type":"resync","channel":"account"}     {"type":"error","message":"..."}
//
// Private events are numbered per trader (traderSeq). A subscription to "account" without
// "since" starts from now: what happened before it must be loaded over REST, so once the
// server acknowledges it the client says "resync". After a reconnect the client asks for
// every event after the last it saw ("since"); the server replays them, or answers "resync"
// when they are too old. An event already seen (a replay overlap) is dropped; a jump in
// traderSeq, which the server never sends, would also mean "reload over REST".
import { numberText, parseJson } from "./json";
import type { WireObject } from "./wire";

export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

/** Why the screens should reload the trader's state over REST. */
export type ResyncReason = "subscribed" | "server" | "gap";

/** What the client needs of a WebSocket (the browser's, or a fake in tests). */
export interface SocketLike {
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface LiveMessage {
  channel: string;
  seq: number;
  /** set on private (account) messages */
  traderSeq?: number;
  body: WireObject;
}

export interface LiveHandlers {
  onMessage(message: LiveMessage): void;
  /** the trader's state may have changed unseen: reload it over REST */
  onResync(reason: ResyncReason): void;
  /** for the "reconnecting…" banner; `detail` says why, in words */
  onState(state: SocketState, detail?: string): void;
  /** the server refused something the client sent */
  onServerError?(message: string): void;
  /** a (re)connection is subscribed: public data missed while down (candles) can be reloaded */
  onSubscribed?(channels: readonly string[], reconnected: boolean): void;
}

export interface LiveOptions {
  channels: readonly string[];
  url?: string;
  connect?: (url: string) => SocketLike;
  /** first reconnect delay, doubled on every failure up to maxDelayMs; ±25 % jitter */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** the delay after the server said it is restarting (1001, 1012) */
  restartDelayMs?: number;
  pingEveryMs?: number;
  /** a socket silent this long is dead (we ping every pingEveryMs; the server answers) */
  silentAfterMs?: number;
  random?: () => number;
  now?: () => number;
}

export const PRIVATE_CHANNELS: ReadonlySet<string> = new Set(["account"]);

/** Close codes (RFC 6455, SPEC §8) in words, for the "reconnecting" banner. */
export function closeReason(code: number, reason: string): string {
  switch (code) {
    case 1001:
    case 1012:
      return "the server is restarting";
    case 1008:
      return reason || "the server refused the connection";
    case 1011:
      return "the server could not keep the connection";
    case 1013:
      return "the connection fell behind the updates";
    case 4000:
      return "the connection went silent";
    default:
      return "the connection was lost";
  }
}

export function defaultSocketUrl(): string {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/api/v1/ws`;
}

function safeInteger(value: unknown): number | undefined {
  const text = numberText(value);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : undefined;
}

export class LiveSocket {
  private socket: SocketLike | undefined;
  private readonly channels: Set<string>;
  private state: SocketState = "closed";
  private stopped = true;
  private failures = 0;
  private connections = 0;
  private lastSeq: number | undefined;
  private lastTraderSeq: number | undefined;
  /** the private channel was subscribed without `since`: its ack calls for a REST load */
  private freshPrivate = false;
  private lastHeard = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private readonly options: Required<Omit<LiveOptions, "channels" | "url">> & { url: string };

  constructor(
    private readonly handlers: LiveHandlers,
    options: LiveOptions,
  ) {
    this.channels = new Set(options.channels);
    this.options = {
      url: options.url ?? defaultSocketUrl(),
      connect: options.connect ?? ((url) => new WebSocket(url) as unknown as SocketLike),
      initialDelayMs: options.initialDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      restartDelayMs: options.restartDelayMs ?? 250,
      pingEveryMs: options.pingEveryMs ?? 20_000,
      silentAfterMs: options.silentAfterMs ?? 45_000,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    };
  }

  get currentState(): SocketState {
    return this.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open("connecting");
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.drop(1000, "closed by the page");
    this.setState("closed");
  }

  /** Reconnect at once (the browser is back online, say) instead of waiting out the backoff. */
  retryNow(): void {
    if (this.stopped || this.state !== "reconnecting" || this.socket) return;
    clearTimeout(this.reconnectTimer);
    this.open("reconnecting");
  }

  subscribe(channels: readonly string[]): void {
    const added = channels.filter((channel) => !this.channels.has(channel));
    added.forEach((channel) => this.channels.add(channel));
    if (added.length && this.state === "open") this.sendSubscribe(added);
  }

  unsubscribe(channels: readonly string[]): void {
    const removed = channels.filter((channel) => this.channels.delete(channel));
    if (removed.length && this.state === "open") {
      this.send({ op: "unsubscribe", channels: removed });
    }
  }

  private setState(state: SocketState, detail?: string): void {
    this.state = state;
    this.handlers.onState(state, detail);
  }

  private open(state: SocketState, detail?: string): void {
    this.setState(state, detail);
    let socket: SocketLike;
    try {
      socket = this.options.connect(this.options.url);
    } catch {
      this.lost("the connection could not be opened", false);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.connections += 1;
      this.lastSeq = undefined; // seq counts per connection
      this.lastHeard = this.options.now();
      this.setState("open");
      this.sendSubscribe([...this.channels]);
      this.pingTimer = setInterval(() => {
        this.keepAlive();
      }, this.options.pingEveryMs);
    };
    socket.onmessage = (event) => {
      this.lastHeard = this.options.now();
      if (typeof event.data === "string") this.receive(event.data);
    };
    socket.onclose = (event) => {
      const restarting = event.code === 1001 || event.code === 1012;
      this.lost(closeReason(event.code, event.reason), restarting);
    };
    socket.onerror = () => {
      // a close event always follows; the reconnect happens there
    };
  }

  private sendSubscribe(channels: string[]): void {
    if (channels.length === 0) return;
    const wantsPrivate = channels.some((channel) => PRIVATE_CHANNELS.has(channel));
    const since = wantsPrivate ? this.lastTraderSeq : undefined;
    if (wantsPrivate) this.freshPrivate = since === undefined;
    this.send(
      since === undefined ? { op: "subscribe", channels } : { op: "subscribe", channels, since },
    );
  }

  private send(frame: object): void {
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch {
      // closing: the close event reconnects
    }
  }

  private keepAlive(): void {
    if (this.options.now() - this.lastHeard >= this.options.silentAfterMs) {
      this.drop(4000, "silent");
      this.lost(closeReason(4000, ""), false);
      return;
    }
    this.send({ op: "ping" });
  }

  /** Forget the current socket without hearing from it again. */
  private drop(code: number, reason: string): void {
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // already closed
    }
  }

  private lost(reason: string, restarting: boolean): void {
    this.drop(1000, reason);
    if (this.stopped) return;
    const base = restarting
      ? this.options.restartDelayMs
      : Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** this.failures);
    const delay = Math.round(base * (0.75 + this.options.random() / 2));
    if (!restarting) this.failures += 1;
    this.setState("reconnecting", reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.open("reconnecting", reason);
    }, delay);
  }

  private receive(text: string): void {
    let frame: unknown;
    try {
      frame = parseJson(text);
    } catch {
      return; // not JSON: nothing the client can act on
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return;
    const body = frame as WireObject;
    const seq = safeInteger(body.seq);
    if (seq === undefined) {
      this.control(body);
      return;
    }
    if (typeof body.channel !== "string") return;
    if (this.lastSeq !== undefined && seq <= this.lastSeq) return;
    this.lastSeq = seq;
    const traderSeq = safeInteger(body.traderSeq);
    if (traderSeq !== undefined && !this.inOrder(traderSeq)) return;
    this.handlers.onMessage(
      traderSeq === undefined
        ? { channel: body.channel, seq, body }
        : { channel: body.channel, seq, traderSeq, body },
    );
  }

  /** The server's answers outside the data channels. */
  private control(body: WireObject): void {
    switch (body.type) {
      case "error":
        this.handlers.onServerError?.(typeof body.message === "string" ? body.message : "error");
        return;
      case "resync":
        this.lastTraderSeq = undefined;
        this.handlers.onResync("server");
        return;
      case "subscribed": {
        this.failures = 0; // the server serves us: the next loss starts the backoff afresh
        const channels = Array.isArray(body.channels)
          ? body.channels.filter((name): name is string => typeof name === "string")
          : [];
        this.handlers.onSubscribed?.(channels, this.connections > 1);
        if (this.freshPrivate && channels.some((name) => PRIVATE_CHANNELS.has(name))) {
          this.freshPrivate = false;
          this.handlers.onResync("subscribed");
        }
        return;
      }
      default:
        return; // pong, unsubscribed, authenticated
    }
  }

  /** False for a private event already seen; a gap asks the screens to reload. */
  private inOrder(traderSeq: number): boolean {
    const last = this.lastTraderSeq;
    if (last !== undefined && traderSeq <= last) return false;
    this.lastTraderSeq = traderSeq;
    if (last !== undefined && traderSeq > last + 1) this.handlers.onResync("gap");
    return true;
  }
}

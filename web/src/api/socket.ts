// The live connection of SPEC §8 (GET /api/v1/ws): subscribe, keep it alive, reconnect with
// backoff, and never lose a private event. The protocol is here and only here; what the
// messages mean is read by live.ts.
//
// Frames (JSON text):
//   → {"op":"subscribe","channels":[...],"since":<traderSeq>?}  {"op":"unsubscribe",...}
//   → {"op":"ping"}
//   ← data: {"channel":"quotes","seq":12, ...fields}    private: also "traderSeq":40
//   ← {"type":"error","message":"..."}   {"type":"resync"}   {"type":"pong"}
//
// Private events are numbered per trader (traderSeq). After a reconnect the client asks for
// every event after the last it saw ("since"); the server replays them, or answers "resync"
// when they are too old, and then the screens reload over REST. An event the client already
// saw (a replay overlap) is dropped; a jump in traderSeq also means "reload over REST".
import { numberText, parseJson } from "./json";
import type { WireObject } from "./wire";

export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

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
  /** private events were missed: reload the trader's state over REST */
  onResync(): void;
  /** for the "reconnecting…" banner */
  onState(state: SocketState, detail?: string): void;
  /** the server refused something the client sent */
  onServerError?(message: string): void;
}

export interface LiveOptions {
  channels: readonly string[];
  url?: string;
  connect?: (url: string) => SocketLike;
  /** first reconnect delay, doubled on every failure up to maxDelayMs; ±50 % jitter */
  initialDelayMs?: number;
  maxDelayMs?: number;
  pingEveryMs?: number;
  /** a socket silent this long is dead (the server pings every 20 s) */
  silentAfterMs?: number;
  random?: () => number;
  now?: () => number;
}

export const PRIVATE_CHANNELS = new Set(["account"]);

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
  private lastSeq: number | undefined;
  private lastTraderSeq: number | undefined;
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
      pingEveryMs: options.pingEveryMs ?? 20_000,
      silentAfterMs: options.silentAfterMs ?? 60_000,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    };
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
    const socket = this.options.connect(this.options.url);
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
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
      this.lost(event.reason || `closed (${event.code})`);
    };
    socket.onerror = () => {
      // a close event always follows; the reconnect happens there
    };
  }

  private sendSubscribe(channels: string[]): void {
    const wantsPrivate = channels.some((channel) => PRIVATE_CHANNELS.has(channel));
    const since = wantsPrivate ? this.lastTraderSeq : undefined;
    this.send(
      since === undefined ? { op: "subscribe", channels } : { op: "subscribe", channels, since },
    );
  }

  private send(frame: object): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private keepAlive(): void {
    if (this.options.now() - this.lastHeard >= this.options.silentAfterMs) {
      this.drop(4000, "silent");
      this.lost("the connection went silent");
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

  private lost(reason: string): void {
    this.drop(1000, reason);
    if (this.stopped) return;
    const base = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** this.failures,
    );
    const delay = Math.round(base * (0.5 + this.options.random() / 2));
    this.failures += 1;
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
    if (body.type === "error") {
      this.handlers.onServerError?.(typeof body.message === "string" ? body.message : "error");
      return;
    }
    if (body.type === "resync") {
      this.lastTraderSeq = undefined;
      this.handlers.onResync();
      return;
    }
    const seq = safeInteger(body.seq);
    if (typeof body.channel !== "string" || seq === undefined) return; // pong and the like
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

  /** False for a private event already seen; a gap asks the screens to reload. */
  private inOrder(traderSeq: number): boolean {
    const last = this.lastTraderSeq;
    if (last !== undefined && traderSeq <= last) return false;
    this.lastTraderSeq = traderSeq;
    if (last !== undefined && traderSeq > last + 1) this.handlers.onResync();
    return true;
  }
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  LiveSocket,
  type LiveHandlers,
  type LiveMessage,
  type ResyncReason,
  type SocketLike,
} from "./socket";

class FakeSocket implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  sent: unknown[] = [];
  closed: { code: number | undefined; reason: string | undefined } | undefined;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
  // the server's side
  accept(): void {
    this.onopen?.();
  }
  /** the server's answer to the client's last subscribe */
  ack(): void {
    const last = this.sent.at(-1) as { op: string; channels: string[] };
    this.frame({ type: "subscribed", channels: last.channels });
  }
  frame(body: object): void {
    this.onmessage?.({ data: JSON.stringify(body) });
  }
  raw(text: string): void {
    this.onmessage?.({ data: text });
  }
  hangUp(code = 1006, reason = ""): void {
    this.onclose?.({ code, reason });
  }
}

function setup(channels: string[] = ["quotes", "account"]) {
  const sockets: FakeSocket[] = [];
  const messages: LiveMessage[] = [];
  const states: string[] = [];
  const details: (string | undefined)[] = [];
  const errors: string[] = [];
  const resyncs: ResyncReason[] = [];
  const subscribed: [readonly string[], boolean][] = [];
  const handlers: LiveHandlers = {
    onMessage: (message) => messages.push(message),
    onResync: (reason) => resyncs.push(reason),
    onState: (state, detail) => {
      states.push(state);
      details.push(detail);
    },
    onServerError: (message) => errors.push(message),
    onSubscribed: (channels, reconnected) => subscribed.push([channels, reconnected]),
  };
  const live = new LiveSocket(handlers, {
    channels,
    url: "ws://test/api/v1/ws",
    connect: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    random: () => 0.5, // no jitter: delays are exactly the base
    now: () => Date.now(),
  });
  const last = () => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error("no socket opened");
    return socket;
  };
  return { live, sockets, messages, states, details, errors, last, resyncs, subscribed };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("LiveSocket", () => {
  it("subscribes to its channels once connected, without `since` at first", () => {
    const t = setup();
    t.live.start();
    expect(t.states).toEqual(["connecting"]);
    expect(t.last().url).toBe("ws://test/api/v1/ws");
    t.last().accept();
    expect(t.states.at(-1)).toBe("open");
    expect(t.last().sent).toEqual([{ op: "subscribe", channels: ["quotes", "account"] }]);
  });

  it("a fresh private subscription, once acknowledged, asks for a load over REST", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    expect(t.resyncs).toEqual([]);
    t.last().ack();
    expect(t.resyncs).toEqual(["subscribed"]);
    expect(t.subscribed).toEqual([[["quotes", "account"], false]]);
    t.last().ack(); // an ack of nothing new asks for nothing
    expect(t.resyncs).toEqual(["subscribed"]);
  });

  it("hands over data messages with their channel, seq and traderSeq, numbers exact", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().raw('{"seq":1,"channel":"quotes","asset":"SOL","bid":149.990001,"ask":150.010001}');
    t.last().frame({ seq: 2, traderSeq: 7, channel: "account", type: "account" });
    expect(t.messages.map((m) => [m.channel, m.seq, m.traderSeq])).toEqual([
      ["quotes", 1, undefined],
      ["account", 2, 7],
    ]);
    const bid = t.messages[0]?.body.bid as { value: string };
    expect(bid.value).toBe("149.990001"); // never a float
  });

  it("reconnects with exponential backoff and says so", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().ack();
    t.last().hangUp(1006, "");
    expect(t.states.at(-1)).toBe("reconnecting");
    expect(t.details.at(-1)).toBe("the connection was lost");
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(999);
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(2);
    t.last().hangUp(); // the server is still down: wait twice as long
    vi.advanceTimersByTime(1999);
    expect(t.sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(3);
    t.last().accept();
    t.last().hangUp(); // open but never served: the backoff goes on
    vi.advanceTimersByTime(3999);
    expect(t.sockets).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(4);
    t.last().accept();
    t.last().ack();
    expect(t.states.at(-1)).toBe("open");
    t.last().hangUp(); // served: the backoff starts afresh
    vi.advanceTimersByTime(1000);
    expect(t.sockets).toHaveLength(5);
  });

  it("jitters each delay by up to a quarter either way", () => {
    for (const [random, delay] of [
      [0, 750],
      [0.998, 1249],
    ] as const) {
      const sockets: FakeSocket[] = [];
      const live = new LiveSocket(
        { onMessage: () => undefined, onResync: () => undefined, onState: () => undefined },
        {
          channels: ["quotes"],
          url: "ws://x",
          random: () => random,
          connect: (url) => {
            const socket = new FakeSocket(url);
            sockets.push(socket);
            return socket;
          },
        },
      );
      live.start();
      sockets.at(-1)?.hangUp();
      vi.advanceTimersByTime(delay - 1);
      expect(sockets).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(sockets).toHaveLength(2);
      live.stop();
    }
  });

  it("caps the backoff", () => {
    const t = setup();
    t.live.start();
    for (let i = 0; i < 12; i++) {
      t.last().hangUp();
      vi.advanceTimersByTime(30_000);
    }
    const count = t.sockets.length;
    t.last().hangUp();
    vi.advanceTimersByTime(29_999);
    expect(t.sockets).toHaveLength(count);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(count + 1);
  });

  it.each([
    [1001, "the server is restarting"],
    [1012, "the server is restarting"],
  ])("comes back quickly when the server restarts (%i)", (code, words) => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().ack();
    t.last().hangUp(code, "");
    expect(t.details.at(-1)).toBe(words);
    vi.advanceTimersByTime(250);
    expect(t.sockets).toHaveLength(2);
  });

  it.each([
    [1013, "too slow", "the connection fell behind the updates"],
    [1011, "", "the server could not keep the connection"],
    [1008, "too many bad frames", "too many bad frames"],
  ])("says why the server closed it (%i) and backs off", (code, reason, words) => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().hangUp(code, reason);
    expect(t.states.at(-1)).toBe("reconnecting");
    expect(t.details.at(-1)).toBe(words);
    vi.advanceTimersByTime(999);
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(2);
  });

  it("asks for the private events it missed, since the last traderSeq it saw", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().ack();
    t.last().frame({ seq: 1, traderSeq: 41, channel: "account" });
    t.last().frame({ seq: 2, traderSeq: 42, channel: "account" });
    t.last().hangUp(1013, "too slow");
    vi.advanceTimersByTime(1000);
    t.last().accept();
    expect(t.last().sent).toEqual([
      { op: "subscribe", channels: ["quotes", "account"], since: 42 },
    ]);
    t.last().ack();
    expect(t.subscribed.at(-1)).toEqual([["quotes", "account"], true]);
    // the replay overlaps what was seen: delivered once
    t.last().frame({ seq: 1, traderSeq: 42, channel: "account" });
    t.last().frame({ seq: 2, traderSeq: 43, channel: "account" });
    expect(t.messages.map((m) => m.traderSeq)).toEqual([41, 42, 43]);
    expect(t.resyncs).toEqual(["subscribed"]); // only the first, fresh subscription
  });

  it("a reconnect before any private event subscribes afresh, and reloads once acknowledged", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().ack();
    t.last().hangUp();
    vi.advanceTimersByTime(1000);
    t.last().accept();
    expect(t.last().sent).toEqual([{ op: "subscribe", channels: ["quotes", "account"] }]);
    t.last().ack();
    expect(t.resyncs).toEqual(["subscribed", "subscribed"]);
  });

  it("reloads over REST when the server says resync, then starts counting afresh", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ seq: 1, traderSeq: 5, channel: "account" });
    t.last().frame({ type: "resync", channel: "account" });
    expect(t.resyncs).toEqual(["server"]);
    t.last().frame({ seq: 2, traderSeq: 900, channel: "account" });
    expect(t.messages.map((m) => m.traderSeq)).toEqual([5, 900]);
    expect(t.resyncs).toEqual(["server"]);
    t.last().hangUp();
    vi.advanceTimersByTime(1000);
    t.last().accept();
    expect(t.last().sent).toEqual([
      { op: "subscribe", channels: ["quotes", "account"], since: 900 },
    ]);
  });

  it("reloads over REST when private events jump", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ seq: 1, traderSeq: 5, channel: "account" });
    t.last().frame({ seq: 2, traderSeq: 8, channel: "account" });
    expect(t.resyncs).toEqual(["gap"]);
    expect(t.messages.map((m) => m.traderSeq)).toEqual([5, 8]);
  });

  it("drops a data message whose seq does not advance on this connection", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ seq: 3, channel: "quotes" });
    t.last().frame({ seq: 3, channel: "quotes" });
    t.last().frame({ seq: 2, channel: "quotes" });
    t.last().frame({ seq: 4, channel: "quotes" });
    expect(t.messages.map((m) => m.seq)).toEqual([3, 4]);
  });

  it("passes server errors on and ignores frames it cannot read", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ type: "error", message: "unknown channel nope" });
    t.last().raw("not json");
    t.last().raw("[1,2]");
    t.last().frame({ type: "pong" });
    t.last().frame({ type: "unsubscribed", channels: ["quotes"] });
    t.last().frame({ type: "authenticated" });
    expect(t.errors).toEqual(["unknown channel nope"]);
    expect(t.messages).toEqual([]);
  });

  it("pings, and replaces a socket that went silent", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    vi.advanceTimersByTime(20_000);
    expect(t.last().sent.at(-1)).toEqual({ op: "ping" });
    t.last().frame({ type: "pong" }); // heard at 20 s
    vi.advanceTimersByTime(40_000);
    expect(t.sockets[0]?.closed).toBeUndefined(); // 40 s of silence: not yet
    vi.advanceTimersByTime(20_000); // silent from 20 s to 80 s
    const dead = t.sockets[0];
    expect(dead?.closed?.code).toBe(4000);
    expect(t.states.at(-1)).toBe("reconnecting");
    expect(t.details.at(-1)).toBe("the connection went silent");
    vi.advanceTimersByTime(1000);
    expect(t.sockets).toHaveLength(2);
  });

  it("subscribes and unsubscribes on the open socket", () => {
    const t = setup(["quotes"]);
    t.live.start();
    t.last().accept();
    t.live.subscribe(["candles:SOL:1m", "quotes"]);
    t.live.unsubscribe(["quotes"]);
    expect(t.last().sent).toEqual([
      { op: "subscribe", channels: ["quotes"] },
      { op: "subscribe", channels: ["candles:SOL:1m"] },
      { op: "unsubscribe", channels: ["quotes"] },
    ]);
    t.last().hangUp();
    vi.advanceTimersByTime(1000);
    t.last().accept();
    expect(t.last().sent).toEqual([{ op: "subscribe", channels: ["candles:SOL:1m"] }]);
  });

  it("sends `since` only with the account channel", () => {
    const t = setup(["quotes", "account"]);
    t.live.start();
    t.last().accept();
    t.last().frame({ seq: 1, traderSeq: 3, channel: "account" });
    t.live.subscribe(["candles:ETH:1h"]);
    expect(t.last().sent.at(-1)).toEqual({ op: "subscribe", channels: ["candles:ETH:1h"] });
  });

  it("retries at once when asked (the browser is back online)", () => {
    const t = setup();
    t.live.start();
    t.last().hangUp();
    t.live.retryNow();
    expect(t.sockets).toHaveLength(2);
    vi.advanceTimersByTime(60_000);
    expect(t.sockets).toHaveLength(2); // the pending timer was dropped
    t.live.retryNow(); // connecting already: nothing more
    expect(t.sockets).toHaveLength(2);
  });

  it("stops for good: no reconnect after stop()", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.live.stop();
    expect(t.last().closed?.code).toBe(1000);
    expect(t.states.at(-1)).toBe("closed");
    vi.advanceTimersByTime(120_000);
    expect(t.sockets).toHaveLength(1);
  });
});

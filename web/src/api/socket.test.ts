import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveSocket, type LiveHandlers, type LiveMessage, type SocketLike } from "./socket";

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
  const errors: string[] = [];
  let resyncs = 0;
  const handlers: LiveHandlers = {
    onMessage: (message) => messages.push(message),
    onResync: () => (resyncs += 1),
    onState: (state) => states.push(state),
    onServerError: (message) => errors.push(message),
  };
  const live = new LiveSocket(handlers, {
    channels,
    url: "ws://test/api/v1/ws",
    connect: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    random: () => 0.5, // no jitter: delays are exactly 0.75 × base
    now: () => Date.now(),
  });
  const last = () => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error("no socket opened");
    return socket;
  };
  return { live, sockets, messages, states, errors, last, resyncs: () => resyncs };
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

  it("hands over data messages with their channel, seq and traderSeq, numbers exact", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().raw('{"channel":"quotes","seq":1,"asset":"SOL","bid":149.990001,"ask":150.010001}');
    t.last().frame({ channel: "account", seq: 2, traderSeq: 7, type: "account" });
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
    t.last().hangUp(1006, "");
    expect(t.states.at(-1)).toBe("reconnecting");
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(749);
    expect(t.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1); // 1000 ms × 0.75
    expect(t.sockets).toHaveLength(2);
    t.last().hangUp(); // the server is still down: wait twice as long
    vi.advanceTimersByTime(1499);
    expect(t.sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(t.sockets).toHaveLength(3);
    t.last().accept();
    expect(t.states.at(-1)).toBe("open");
    t.last().hangUp(); // a success resets the backoff
    vi.advanceTimersByTime(750);
    expect(t.sockets).toHaveLength(4);
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
    vi.advanceTimersByTime(22_499);
    expect(t.sockets).toHaveLength(count);
    vi.advanceTimersByTime(1); // 30 s × 0.75
    expect(t.sockets).toHaveLength(count + 1);
  });

  it("asks for the private events it missed, since the last traderSeq it saw", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ channel: "account", seq: 1, traderSeq: 41 });
    t.last().frame({ channel: "account", seq: 2, traderSeq: 42 });
    t.last().hangUp();
    vi.advanceTimersByTime(1000);
    t.last().accept();
    expect(t.last().sent).toEqual([
      { op: "subscribe", channels: ["quotes", "account"], since: 42 },
    ]);
    // the replay overlaps what was seen: delivered once
    t.last().frame({ channel: "account", seq: 1, traderSeq: 42 });
    t.last().frame({ channel: "account", seq: 2, traderSeq: 43 });
    expect(t.messages.map((m) => m.traderSeq)).toEqual([41, 42, 43]);
    expect(t.resyncs()).toBe(0);
  });

  it("reloads over REST when the server says resync, then starts counting afresh", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ channel: "account", seq: 1, traderSeq: 5 });
    t.last().frame({ type: "resync" });
    expect(t.resyncs()).toBe(1);
    t.last().frame({ channel: "account", seq: 2, traderSeq: 900 });
    expect(t.messages.map((m) => m.traderSeq)).toEqual([5, 900]);
    expect(t.resyncs()).toBe(1);
  });

  it("reloads over REST when private events jump", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ channel: "account", seq: 1, traderSeq: 5 });
    t.last().frame({ channel: "account", seq: 2, traderSeq: 8 });
    expect(t.resyncs()).toBe(1);
    expect(t.messages.map((m) => m.traderSeq)).toEqual([5, 8]);
  });

  it("drops a data message whose seq does not advance on this connection", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    t.last().frame({ channel: "quotes", seq: 3 });
    t.last().frame({ channel: "quotes", seq: 3 });
    t.last().frame({ channel: "quotes", seq: 2 });
    t.last().frame({ channel: "quotes", seq: 4 });
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
    expect(t.errors).toEqual(["unknown channel nope"]);
    expect(t.messages).toEqual([]);
  });

  it("pings, and replaces a socket that went silent", () => {
    const t = setup();
    t.live.start();
    t.last().accept();
    vi.advanceTimersByTime(20_000);
    expect(t.last().sent.at(-1)).toEqual({ op: "ping" });
    t.last().frame({ channel: "quotes", seq: 1 }); // heard at 20 s
    vi.advanceTimersByTime(60_000); // silent from 20 s to 80 s
    const dead = t.sockets[0];
    expect(dead?.closed?.code).toBe(4000);
    expect(t.states.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(750);
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

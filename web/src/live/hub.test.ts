import { describe, expect, it } from "vitest";
import type { LiveHandlers } from "../api/socket";
import { LiveHub, type SocketControl } from "./hub";

function fakeSocket() {
  const calls: string[] = [];
  let handlers: LiveHandlers | undefined;
  const factory = (given: LiveHandlers, channels: readonly string[]): SocketControl => {
    handlers = given;
    calls.push(`new ${channels.join(",")}`);
    return {
      start: () => calls.push("start"),
      stop: () => calls.push("stop"),
      subscribe: (list) => calls.push(`+${list.join(",")}`),
      unsubscribe: (list) => calls.push(`-${list.join(",")}`),
      retryNow: () => calls.push("retry"),
    };
  };
  const server = () => {
    if (!handlers) throw new Error("no socket");
    return handlers;
  };
  return { calls, factory, server };
}

describe("LiveHub", () => {
  it("subscribes a channel while anyone listens, once", () => {
    const fake = fakeSocket();
    const hub = new LiveHub(fake.factory, ["quotes", "account"]);
    const heard: string[] = [];
    const stopA = hub.listen("candles:SOL:1m", (m) => heard.push(`a${m.seq}`));
    const stopB = hub.listen("candles:SOL:1m", (m) => heard.push(`b${m.seq}`));
    const stopQuotes = hub.listen("quotes", (m) => heard.push(`q${m.seq}`));
    fake.server().onMessage({ channel: "candles:SOL:1m", seq: 1, body: {} });
    fake.server().onMessage({ channel: "quotes", seq: 2, body: {} });
    fake.server().onMessage({ channel: "candles:ETH:1m", seq: 3, body: {} });
    stopA();
    fake.server().onMessage({ channel: "candles:SOL:1m", seq: 4, body: {} });
    stopB();
    stopB(); // twice: harmless
    stopQuotes(); // permanent: stays subscribed
    expect(heard).toEqual(["a1", "b1", "q2", "b4"]);
    expect(fake.calls).toEqual(["new quotes,account", "+candles:SOL:1m", "-candles:SOL:1m"]);
  });

  it("reports the connection, resyncs and reconnections", () => {
    const fake = fakeSocket();
    const hub = new LiveHub(fake.factory, ["quotes"]);
    const states: string[] = [];
    const resyncs: string[] = [];
    let reconnects = 0;
    hub.onConnection((c) => states.push(`${c.state}:${c.detail ?? ""}:${c.serverError ?? ""}`));
    hub.onResync((reason) => resyncs.push(reason));
    hub.onReconnected(() => (reconnects += 1));
    fake.server().onState("reconnecting", "the connection was lost");
    fake.server().onServerError?.("the account channel is private: sign in first");
    fake.server().onState("open");
    fake.server().onSubscribed?.(["quotes"], false);
    fake.server().onSubscribed?.(["quotes"], true);
    fake.server().onResync("server");
    expect(states).toEqual([
      "reconnecting:the connection was lost:",
      "reconnecting:the connection was lost:the account channel is private: sign in first",
      "open::the account channel is private: sign in first",
      "open::",
    ]);
    expect(resyncs).toEqual(["server"]);
    expect(reconnects).toBe(1);
    expect(hub.connection.state).toBe("open");
  });
});

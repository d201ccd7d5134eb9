// One trader action, one Idempotency-Key: every automatic retry sends the same key (so the
// server applies it at most once), and only failures whose outcome is unknown are retried.
import { afterEach, describe, expect, it, vi } from "vitest";
import { isRetryable, newIdempotencyKey, sendAction } from "./action";
import { ApiError } from "./errors";

interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

function serveInTurn(answers: (Answer | "network")[]) {
  const keys: (string | undefined)[] = [];
  vi.stubGlobal("fetch", (_url: string, init: RequestInit) => {
    keys.push((init.headers as Record<string, string>)["idempotency-key"]);
    const answer = answers.shift();
    if (answer === undefined) throw new Error("no more answers");
    if (answer === "network") return Promise.reject(new TypeError("Failed to fetch"));
    return Promise.resolve(
      new Response(answer.body, {
        status: answer.status,
        ...(answer.headers ? { headers: answer.headers } : {}),
      }),
    );
  });
  return keys;
}

const fail = (status: number, code: string, headers?: Record<string, string>): Answer => ({
  status,
  body: JSON.stringify({ success: false, message: `failed ${code}`, code }),
  ...(headers ? { headers } : {}),
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("sendAction", () => {
  it("retries a lost answer, a 504 and 'in flight' with the same key until the outcome", async () => {
    const keys = serveInTurn([
      "network",
      fail(504, "ENGINE_TIMEOUT"),
      fail(409, "IDEMPOTENCY_IN_FLIGHT", { "retry-after": "1" }),
      { status: 200, body: '{"orderId":"o1"}' },
    ]);
    const waits: number[] = [];
    const sleep = (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    };
    const answer = await sendAction("/trade/create", { margin: 1n }, { sleep });
    expect(answer).toMatchObject({ orderId: "o1" });
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(waits).toEqual([500, 1000, 1000]); // doubling, or the server's Retry-After
  });

  it("does not retry an answer: a refusal is the outcome", async () => {
    const keys = serveInTurn([fail(400, "INSUFFICIENT_BALANCE")]);
    await expect(
      sendAction("/trade/create", {}, { sleep: () => Promise.resolve() }),
    ).rejects.toMatchObject({
      status: 400,
      message: "failed INSUFFICIENT_BALANCE",
    });
    expect(keys).toHaveLength(1);
  });

  it("gives up after its attempts, saying nothing was applied twice", async () => {
    const keys = serveInTurn(["network", "network", "network"]);
    const failure = sendAction("/trade/close", {}, { attempts: 3, sleep: () => Promise.resolve() });
    await expect(failure).rejects.toThrow(/tried 3 times; it is never applied twice/);
    expect(keys).toHaveLength(3);
  });

  it("each action has its own key", async () => {
    const keys = serveInTurn([
      { status: 200, body: "{}" },
      { status: 200, body: "{}" },
    ]);
    await sendAction("/order/cancel", {});
    await sendAction("/order/cancel", {});
    expect(keys[0]).not.toBe(keys[1]);
    expect(newIdempotencyKey()).not.toBe(newIdempotencyKey());
  });

  it.each([
    [new ApiError("x", 0, undefined, "network"), true],
    [new ApiError("x", 504, "DEADLINE_EXCEEDED"), true],
    [new ApiError("x", 502, undefined), true],
    [new ApiError("x", 503, "BUSY"), true],
    [new ApiError("x", 503, "STALE_PRICE"), false], // a retry at once would meet the same price
    [new ApiError("x", 409, "ORDER_ALREADY_CLOSED"), false],
    [new ApiError("x", 422, "IDEMPOTENCY_KEY_REUSED"), false],
    [new ApiError("x", 0, undefined, "decode"), false],
    [new Error("x"), false],
  ])("%s is retryable: %s", (error, retryable) => {
    expect(isRetryable(error)).toBe(retryable);
  });
});

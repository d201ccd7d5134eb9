// A trader's action (open, close, modify, cancel) sent so that it is applied at most once
// (SPEC §7.5): one Idempotency-Key per click, reused by every automatic retry. A retry after
// a lost connection, a 504 or "still in flight" (409) therefore learns the outcome of the
// first attempt instead of trading twice.
import { ApiError } from "./errors";
import { request } from "./http";
import type { BodyValue, WireValue } from "./json";

/** 128 random bits as hex: a key for one action (crypto.getRandomValues works on http too). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether another attempt with the same key may succeed: the outcome is not known yet. */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  if (error.kind === "network") return true;
  if (error.status === 409) return error.code === "IDEMPOTENCY_IN_FLIGHT";
  if (error.status === 502 || error.status === 504) return true;
  return error.status === 503 && (error.code === "BUSY" || error.code === "STORE_TIMEOUT");
}

export interface ActionOptions {
  /** tries in all, the first included */
  attempts?: number;
  /** before the second try; doubled each time, or the server's Retry-After */
  firstDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  key?: string;
}

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

export async function sendAction(
  path: string,
  body: Record<string, BodyValue>,
  options: ActionOptions = {},
): Promise<WireValue> {
  const { attempts = 4, firstDelayMs = 500, sleep = pause } = options;
  const idempotencyKey = options.key ?? newIdempotencyKey();
  for (let attempt = 1; ; attempt++) {
    try {
      return await request("POST", path, { body, idempotencyKey });
    } catch (error) {
      if (!isRetryable(error) || attempt >= attempts) throw unknownOutcome(error, attempt);
      const hinted = error instanceof ApiError ? error.retryAfterMs : undefined;
      await sleep(hinted ?? firstDelayMs * 2 ** (attempt - 1));
    }
  }
}

/** After the last retry, say what the trader needs to know: nothing was applied twice. */
function unknownOutcome(error: unknown, attempts: number): unknown {
  if (!isRetryable(error) || !(error instanceof ApiError)) return error;
  return new ApiError(
    `${error.message} (tried ${attempts} times; it is never applied twice: ` +
      "check your positions and orders before trying again)",
    error.status,
    error.code,
    error.kind,
  );
}

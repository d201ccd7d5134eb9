// The HTTP transport: same-origin fetch (the HttpOnly session cookie goes along by itself),
// JSON bodies without floats, every failure turned into an ApiError in words.
import { ApiError } from "./errors";
import { type BodyValue, encodeJson, parseJson, type WireValue } from "./json";
import { object } from "./wire";

export const API_BASE = "/api/v1";

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever a request is answered 401: the session is gone, show the sign-in. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface RequestOptions {
  body?: Record<string, BodyValue>;
  query?: Record<string, string | number | bigint | undefined>;
  signal?: AbortSignal;
  /** SPEC §7.5: the same key on every attempt of one trader action */
  idempotencyKey?: string;
}

/** The address of an API route (for links, such as the CSV statement, as well as requests). */
export function url(path: string, query: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(key, String(value));
  }
  const search = params.toString();
  return `${API_BASE}${path}${search ? `?${search}` : ""}`;
}

function failure(status: number, text: string, retryAfter: string | null): ApiError {
  const seconds =
    retryAfter !== null && /^\d{1,4}$/.test(retryAfter) ? Number(retryAfter) : undefined;
  const wait = seconds === undefined ? undefined : seconds * 1000;
  try {
    const body = object(parseJson(text));
    const message = typeof body.message === "string" ? body.message : undefined;
    const code = typeof body.code === "string" ? body.code : undefined;
    if (message) return new ApiError(message, status, code, "http", wait);
  } catch {
    // not our JSON: a proxy's page, say
  }
  return new ApiError(`the server answered ${status}`, status, undefined, "http", wait);
}

export async function request(
  method: "GET" | "POST",
  path: string,
  options: RequestOptions = {},
): Promise<WireValue> {
  const headers: Record<string, string> = { accept: "application/json" };
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = encodeJson(options.body);
  }
  if (options.signal) init.signal = options.signal;
  if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url(path, options.query), init);
    text = await response.text();
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError("cannot reach the server; check your connection", 0, undefined, "network");
  }
  if (!response.ok) {
    if (response.status === 401) {
      unauthorizedListeners.forEach((listener) => {
        listener();
      });
    }
    throw failure(response.status, text, response.headers.get("retry-after"));
  }
  try {
    return parseJson(text);
  } catch {
    throw new ApiError("the server sent an answer that is not JSON", 0, undefined, "decode");
  }
}

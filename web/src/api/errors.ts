// The one error type the client throws: every failure, said in words a trader can read.

export type ApiErrorKind = "http" | "network" | "decode";

export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    message: string,
    /** the HTTP status; 0 when the server could not be reached or answered nonsense */
    readonly status: number,
    /** the server's machine-readable code (`INSUFFICIENT_BALANCE`, …) when it gave one */
    readonly code: string | undefined,
    readonly kind: ApiErrorKind = "http",
    /** the server's Retry-After, when it gave one */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }
}

/** What to show for any error thrown by the client (or anything else). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return "something went wrong";
}

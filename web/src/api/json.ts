// JSON on the wire, without binary floats: every number is kept as the exact text it was
// written as (lossless-json's LosslessNumber), and bigints are written digit for digit.
import { isLosslessNumber, parse, stringify } from "lossless-json";

/** A parsed JSON value whose numbers are LosslessNumber (use the readers in wire.ts). */
export type WireValue = unknown;

export function parseJson(text: string): WireValue {
  return parse(text);
}

/** A request body: strings, booleans, null, small integers (leverage) and bigints (money). */
export type BodyValue = string | number | bigint | boolean | null | undefined;

export function encodeJson(body: Record<string, BodyValue>): string {
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new TypeError(`${key}: only integers go on the wire, never ${String(value)}`);
    }
  }
  const text = stringify(body);
  if (text === undefined) throw new TypeError("the body cannot be written as JSON");
  return text;
}

/** The exact text of a JSON number, or undefined when `value` is not one. */
export function numberText(value: unknown): string | undefined {
  return isLosslessNumber(value) ? value.value : undefined;
}

// Readers of wire values: each checks the type it expects and says what was wrong.
// Integers in minor units become bigint; decimal numbers in human units become the asset's
// or the dollar's minor units, exactly.
import { toUnits } from "../lib/decimal";
import { ApiError } from "./errors";
import { numberText } from "./json";

export type WireObject = Readonly<Record<string, unknown>>;

function bad(what: string): ApiError {
  return new ApiError(`the server sent an unexpected answer (${what})`, 0, undefined, "decode");
}

export function object(value: unknown, what = "body"): WireObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`${what} is not an object`);
  }
  return value as WireObject;
}

export function array(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) throw bad(`${what} is not a list`);
  return value;
}

export function string(source: WireObject, key: string): string {
  const value = source[key];
  if (typeof value !== "string") throw bad(`${key} is not a string`);
  return value;
}

export function boolean(source: WireObject, key: string): boolean {
  const value = source[key];
  if (typeof value !== "boolean") throw bad(`${key} is not true or false`);
  return value;
}

/** A JSON integer, any size (minor units, counts). */
export function integer(source: WireObject, key: string): bigint {
  const text = numberText(source[key]);
  if (text === undefined || !/^-?\d+$/.test(text)) throw bad(`${key} is not an integer`);
  return BigInt(text);
}

/** A small JSON integer that is not money (leverage, a count). */
export function smallInteger(source: WireObject, key: string): number {
  const value = integer(source, key);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(`${key} is too large`);
  }
  return Number(value);
}

/** A decimal in human units (a JSON number or string, `201.47`) in minor units. */
export function decimal(source: WireObject, key: string, decimals: number): bigint {
  const value = source[key];
  const text = typeof value === "string" ? value : numberText(value);
  if (text === undefined) throw bad(`${key} is not a number`);
  try {
    return toUnits(text, decimals);
  } catch {
    throw bad(`${key} is not a decimal with ${decimals} places`);
  }
}

export function nullable<T>(
  source: WireObject,
  key: string,
  read: (source: WireObject, key: string) => T,
): T | null {
  return source[key] === null || source[key] === undefined ? null : read(source, key);
}

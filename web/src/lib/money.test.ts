import { describe, expect, it } from "vitest";
import { formatPrice, formatUsd, parseUsd } from "./money";

describe("formatUsd", () => {
  it.each([
    [500_000n, "$5,000.00"],
    [-1250n, "-$12.50"],
    [0n, "$0.00"],
    [5n, "$0.05"],
  ])("%i cents is %s", (cents, text) => {
    expect(formatUsd(cents)).toBe(text);
  });

  it("marks a gain when asked", () => {
    expect(formatUsd(200n, { signed: true })).toBe("+$2.00");
    expect(formatUsd(-200n, { signed: true })).toBe("-$2.00");
  });
});

describe("formatPrice", () => {
  it("shows every decimal place of the asset", () => {
    expect(formatPrice("BTC", 500_000_000n)).toBe("50,000.0000");
    expect(formatPrice("SOL", 150_000_000n)).toBe("150.000000");
  });
});

describe("parseUsd", () => {
  it.each([
    ["10", 1000n],
    ["10.5", 1050n],
    ["10.", 1000n],
    ["$1,000.25", 100_025n],
    [" 0.01 ", 1n],
  ])("%j is %i cents", (input, cents) => {
    expect(parseUsd(input)).toEqual({ cents });
  });

  it.each([
    ["", "enter an amount in USD"],
    ["-5", "enter an amount like 10 or 10.50"],
    ["1e3", "enter an amount like 10 or 10.50"],
    ["0.001", "USD amounts have at most 2 decimal places"],
  ])("%j is refused: %s", (input, error) => {
    expect(parseUsd(input)).toEqual({ error });
  });
});

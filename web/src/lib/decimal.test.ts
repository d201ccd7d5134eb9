import { describe, expect, it } from "vitest";
import { formatUnits, toUnits } from "./decimal";

describe("toUnits", () => {
  it.each([
    ["150.25", 6, 150_250_000n],
    ["150", 6, 150_000_000n],
    ["-12.5", 2, -1250n],
    ["0.000001", 6, 1n],
    ["10.0000000000", 2, 1000n],
    ["50000.0000", 4, 500_000_000n],
    ["  7.1 ", 2, 710n],
    ["9007199254740993.01", 2, 900719925474099301n], // beyond 2^53: still exact
  ])("%s with %i decimals is %i", (text, decimals, units) => {
    expect(toUnits(text, decimals)).toBe(units);
  });

  it.each(["", "abc", "1e3", "1.2.3", ".5", "+1", "NaN", "1,000"])("refuses %j", (text) => {
    expect(() => toUnits(text, 2)).toThrow(RangeError);
  });

  it("refuses digits it would have to drop", () => {
    expect(() => toUnits("0.001", 2)).toThrow(/more than 2 decimal places/);
  });
});

describe("formatUnits", () => {
  it.each([
    [150_250_000n, 6, {}, "150.250000"],
    [1n, 6, {}, "0.000001"],
    [-1250n, 2, {}, "-12.50"],
    [500_000n, 2, { group: true }, "5,000.00"],
    [123_456_789_012n, 2, { group: true }, "1,234,567,890.12"],
    [100n, 2, { signed: true }, "+1.00"],
    [0n, 2, { signed: true }, "0.00"],
    [42n, 0, {}, "42"],
  ])("%i with %i decimals, %j, is %s", (units, decimals, options, text) => {
    expect(formatUnits(units, decimals, options)).toBe(text);
  });

  it("round-trips with toUnits", () => {
    for (const units of [0n, 1n, -1n, 999_999n, 10n ** 20n + 7n]) {
      expect(toUnits(formatUnits(units, 6), 6)).toBe(units);
    }
  });
});

import { describe, expect, it } from "vitest";
import { ceilDiv, divRoundHalfEven, floorDiv } from "./rounding";

describe("floorDiv and ceilDiv", () => {
  it.each([
    [7n, 2n, 3n, 4n],
    [-7n, 2n, -4n, -3n],
    [7n, -2n, -4n, -3n],
    [-7n, -2n, 3n, 4n],
    [6n, 3n, 2n, 2n],
    [0n, 5n, 0n, 0n],
  ])("%i / %i: floor %i, ceil %i", (n, d, floor, ceil) => {
    expect(floorDiv(n, d)).toBe(floor);
    expect(ceilDiv(n, d)).toBe(ceil);
  });

  it("refuses to divide by zero", () => {
    expect(() => floorDiv(1n, 0n)).toThrow(RangeError);
    expect(() => divRoundHalfEven(1n, 0n)).toThrow(RangeError);
  });
});

describe("divRoundHalfEven", () => {
  it.each([
    [5n, 2n, 2n], // 2.5 -> 2
    [7n, 2n, 4n], // 3.5 -> 4
    [-5n, 2n, -2n], // -2.5 -> -2
    [-7n, 2n, -4n], // -3.5 -> -4
    [-25n, 2n, -12n], // -12.5 -> -12
    [-27n, 2n, -14n], // -13.5 -> -14
    [10n, 3n, 3n],
    [11n, 3n, 4n],
    [-11n, 3n, -4n],
    [5n, -2n, -2n],
  ])("%i / %i is %i", (n, d, expected) => {
    expect(divRoundHalfEven(n, d)).toBe(expected);
  });
});

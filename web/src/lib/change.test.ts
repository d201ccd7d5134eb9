import { describe, expect, it } from "vitest";
import { change } from "./change";

describe("change", () => {
  it.each([
    [150_000_000n, 151_500_000n, 1_500_000n, 100n], // +1.00 %
    [150_000_000n, 149_000_000n, -1_000_000n, -67n], // -0.6666… % → -0.67
    [3n, 4n, 1n, 3333n], // 33.333… %
    [200n, 201n, 1n, 50n], // 0.5 % exactly
    [40_000n, 40_001n, 1n, 0n], // 0.0025 % → 0.00 (half-even)
    [40_000n, 40_003n, 3n, 1n], // 0.0075 % → 0.01
  ])("from %i to %i: %i units, %i hundredths of a percent", (open, price, units, percent) => {
    expect(change(open, price)).toEqual({ units, percent });
  });

  it("has none without an open", () => {
    expect(change(0n, 5n)).toBeUndefined();
  });
});

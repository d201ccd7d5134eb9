import { describe, expect, it } from "vitest";
import { checkTicket } from "./ticketForm";

describe("checkTicket", () => {
  it("turns what was typed into cents, a leverage and basis points", () => {
    expect(checkTicket({ margin: "10.50", leverage: "20", slippage: "0.5" }, 500_000n)).toEqual({
      ok: true,
      fields: { margin: 1050n, leverage: 20, slippageBps: 50 },
    });
    expect(checkTicket({ margin: "1", leverage: "100", slippage: "100" })).toMatchObject({
      ok: true,
      fields: { margin: 100n, leverage: 100, slippageBps: 10_000 },
    });
  });

  it("says what is wrong with each field", () => {
    expect(checkTicket({ margin: "0", leverage: "101", slippage: "0.05" })).toEqual({
      ok: false,
      errors: {
        margin: "the margin must be more than $0.00",
        leverage: "leverage is from 1x to 100x",
        slippage: "slippage is from 0.1 % to 100 %",
      },
    });
    expect(checkTicket({ margin: "abc", leverage: "2.5", slippage: "x" })).toEqual({
      ok: false,
      errors: {
        margin: "enter an amount like 10 or 10.50",
        leverage: "leverage is a whole number from 1 to 100",
        slippage: "slippage is a percentage like 0.5 or 1",
      },
    });
  });

  it("refuses a margin above the balance", () => {
    expect(checkTicket({ margin: "5000.01", leverage: "1", slippage: "1" }, 500_000n)).toEqual({
      ok: false,
      errors: { margin: "the margin is more than your balance of $5,000.00" },
    });
  });
});

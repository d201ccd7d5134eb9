import { describe, expect, it } from "vitest";
import { toUnits } from "../../lib/decimal";
import { checkTicket, sideProblem, type TicketInput } from "./ticketForm";

const base: TicketInput = {
  orderType: "market",
  trigger: "",
  margin: "10",
  leverage: "10",
  slippage: "1",
  stopLoss: "",
  takeProfit: "",
};
const sol = (human: string) => toUnits(human, 6);

describe("checkTicket", () => {
  it("turns what was typed into cents, a leverage and basis points", () => {
    expect(
      checkTicket({ ...base, margin: "10.50", leverage: "20", slippage: "0.5" }, "SOL", 500_000n),
    ).toEqual({
      ok: true,
      fields: {
        orderType: "market",
        trigger: undefined,
        margin: 1050n,
        leverage: 20,
        slippageBps: 50,
        stopLoss: undefined,
        takeProfit: undefined,
      },
    });
    expect(
      checkTicket({ ...base, margin: "1", leverage: "100", slippage: "100" }, "SOL"),
    ).toMatchObject({ ok: true, fields: { margin: 100n, leverage: 100, slippageBps: 10_000 } });
  });

  it("reads a trigger and levels in the asset's units; slippage is for market orders", () => {
    const check = checkTicket(
      {
        ...base,
        orderType: "limit",
        trigger: "140.5",
        slippage: "nonsense",
        stopLoss: "130",
        takeProfit: "1,160",
      },
      "SOL",
    );
    expect(check).toMatchObject({
      ok: true,
      fields: {
        orderType: "limit",
        trigger: sol("140.5"),
        slippageBps: undefined,
        stopLoss: sol("130"),
        takeProfit: sol("1160"),
      },
    });
  });

  it("says what is wrong with each field", () => {
    expect(checkTicket({ ...base, margin: "0", leverage: "101", slippage: "0.05" }, "SOL")).toEqual(
      {
        ok: false,
        errors: {
          margin: "the margin must be more than $0.00",
          leverage: "leverage is from 1x to 100x",
          slippage: "slippage is from 0.1 % to 100 %",
        },
      },
    );
    expect(checkTicket({ ...base, margin: "abc", leverage: "2.5", slippage: "x" }, "SOL")).toEqual({
      ok: false,
      errors: {
        margin: "enter an amount like 10 or 10.50",
        leverage: "leverage is a whole number from 1 to 100",
        slippage: "slippage is a percentage like 0.5 or 1",
      },
    });
    expect(
      checkTicket(
        { ...base, orderType: "stop", trigger: "", stopLoss: "1.23456789", takeProfit: "x" },
        "BTC",
      ),
    ).toEqual({
      ok: false,
      errors: {
        trigger: "enter a price",
        stopLoss: "BTC prices have at most 4 decimal places",
        takeProfit: "enter a price like 150.25",
      },
    });
  });

  it("refuses a margin above the balance", () => {
    expect(checkTicket({ ...base, margin: "5000.01", leverage: "1" }, "SOL", 500_000n)).toEqual({
      ok: false,
      errors: { margin: "the margin is more than your balance of $5,000.00" },
    });
  });
});

describe("sideProblem", () => {
  const quote = { bid: sol("149.99"), ask: sol("150.01") };
  const fields = (input: Partial<TicketInput>) => {
    const check = checkTicket({ ...base, ...input }, "SOL");
    if (!check.ok) throw new Error(JSON.stringify(check.errors));
    return check.fields;
  };

  it("a buy limit below the ask is fine for Buy and refused for Sell", () => {
    const limit = fields({ orderType: "limit", trigger: "140" });
    expect(sideProblem("SOL", "long", limit, quote)).toBeUndefined();
    expect(sideProblem("SOL", "short", limit, quote)).toBe(
      "a sell limit's trigger must be above the bid 149.990000",
    );
  });

  it("market levels: a long's against the bid, a short's against the ask", () => {
    const levels = fields({ stopLoss: "145", takeProfit: "160" });
    expect(sideProblem("SOL", "long", levels, quote)).toBeUndefined();
    expect(sideProblem("SOL", "short", levels, quote)).toBe(
      "a short's stop loss must be above 150.010000 and below its liquidation price 164.989000",
    );
    // a take profit at the ask: above the long's bid, not below the short's ask
    const between = fields({ takeProfit: "150.01" });
    expect(sideProblem("SOL", "long", between, quote)).toBeUndefined();
    expect(sideProblem("SOL", "short", between, quote)).toBe(
      "a short's take profit must be below 150.010000",
    );
  });

  it("a pending order's levels are checked against its trigger", () => {
    const stop = fields({ orderType: "stop", trigger: "160", stopLoss: "155", takeProfit: "170" });
    expect(sideProblem("SOL", "long", stop, quote)).toBeUndefined();
    const bad = fields({ orderType: "stop", trigger: "160", stopLoss: "143" }); // liquidation 144
    expect(sideProblem("SOL", "long", bad, quote)).toBe(
      "a long's stop loss must be above its liquidation price 144.000000 and below 160.000000",
    );
  });
});

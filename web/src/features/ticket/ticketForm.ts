// The ticket's fields, checked: what the trader typed -> an order, or what is wrong, in words.
// Then, per side, what the engine would refuse (a trigger on the wrong side of the quote, a
// stop loss or take profit on the wrong side of the price), before anything is sent.
import type { OrderType } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { toUnits } from "../../lib/decimal";
import { levelProblems, triggerProblem } from "../../lib/levels";
import { formatUsd, parsePrice, parseUsd } from "../../lib/money";
import { type BidAsk, exitPrice, liquidationPrice, type Side } from "../../lib/preview";

export interface TicketInput {
  orderType: OrderType;
  /** limit and stop orders */
  trigger: string;
  margin: string;
  leverage: string;
  /** percent: "1" is 1 % (100 basis points); market orders */
  slippage: string;
  /** optional prices; empty for none */
  stopLoss: string;
  takeProfit: string;
}

export interface TicketFields {
  orderType: OrderType;
  trigger: bigint | undefined;
  margin: bigint;
  leverage: number;
  slippageBps: number | undefined;
  stopLoss: bigint | undefined;
  takeProfit: bigint | undefined;
}

type FieldName = Exclude<keyof TicketInput, "orderType">;
export type TicketErrors = Partial<Record<FieldName, string>>;

export type TicketCheck = { ok: true; fields: TicketFields } | { ok: false; errors: TicketErrors };

export const LEVERAGE_MIN = 1;
export const LEVERAGE_MAX = 100;
const SLIPPAGE_MIN_BPS = 10n;
const SLIPPAGE_MAX_BPS = 10_000n;

function checkLeverage(text: string): number | string {
  if (!/^\d{1,3}$/.test(text.trim())) return "leverage is a whole number from 1 to 100";
  const leverage = Number(text.trim());
  if (leverage < LEVERAGE_MIN || leverage > LEVERAGE_MAX) return "leverage is from 1x to 100x";
  return leverage;
}

function checkSlippage(text: string): number | string {
  let bps: bigint;
  try {
    bps = toUnits(text.trim(), 2); // hundredths of a percent are basis points
  } catch {
    return "slippage is a percentage like 0.5 or 1";
  }
  if (bps < SLIPPAGE_MIN_BPS || bps > SLIPPAGE_MAX_BPS) return "slippage is from 0.1 % to 100 %";
  return Number(bps);
}

function checkMargin(text: string, balance: bigint | undefined): bigint | string {
  const parsed = parseUsd(text);
  if ("error" in parsed) return parsed.error;
  if (parsed.cents <= 0n) return "the margin must be more than $0.00";
  if (balance !== undefined && parsed.cents > balance) {
    return `the margin is more than your balance of ${formatUsd(balance)}`;
  }
  return parsed.cents;
}

/** An optional price: empty is none. */
function checkLevel(asset: AssetSymbol, text: string): bigint | undefined | string {
  if (text.trim() === "") return undefined;
  const parsed = parsePrice(asset, text);
  return "error" in parsed ? parsed.error : parsed.units;
}

export function checkTicket(input: TicketInput, asset: AssetSymbol, balance?: bigint): TicketCheck {
  const errors: TicketErrors = {};
  const margin = checkMargin(input.margin, balance);
  if (typeof margin === "string") errors.margin = margin;
  const leverage = checkLeverage(input.leverage);
  if (typeof leverage === "string") errors.leverage = leverage;
  let slippageBps: number | undefined;
  let trigger: bigint | undefined;
  if (input.orderType === "market") {
    const slippage = checkSlippage(input.slippage);
    if (typeof slippage === "string") errors.slippage = slippage;
    else slippageBps = slippage;
  } else {
    const parsed = parsePrice(asset, input.trigger);
    if ("error" in parsed) errors.trigger = parsed.error;
    else trigger = parsed.units;
  }
  const stopLoss = checkLevel(asset, input.stopLoss);
  if (typeof stopLoss === "string") errors.stopLoss = stopLoss;
  const takeProfit = checkLevel(asset, input.takeProfit);
  if (typeof takeProfit === "string") errors.takeProfit = takeProfit;
  if (
    typeof margin !== "bigint" ||
    typeof leverage !== "number" ||
    typeof stopLoss === "string" ||
    typeof takeProfit === "string" ||
    Object.keys(errors).length > 0
  ) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    fields: {
      orderType: input.orderType,
      trigger,
      margin,
      leverage,
      slippageBps,
      stopLoss,
      takeProfit,
    },
  };
}

/**
 * What the engine would refuse of this order on `side`, in words, or undefined: a trigger
 * already crossed, or a stop loss / take profit on the wrong side. A market order's levels
 * are checked against the price it is valued at (a long's bid, a short's ask) and the
 * liquidation price from its entry; a pending order's against its trigger.
 */
export function sideProblem(
  asset: AssetSymbol,
  side: Side,
  fields: TicketFields,
  quote: BidAsk,
): string | undefined {
  const { orderType, trigger, leverage } = fields;
  if (orderType !== "market" && trigger !== undefined) {
    const problem = triggerProblem(asset, side, orderType, trigger, quote);
    if (problem) return problem;
  }
  if (fields.stopLoss === undefined && fields.takeProfit === undefined) return undefined;
  const entry = trigger ?? (side === "long" ? quote.ask : quote.bid);
  const reference = trigger ?? exitPrice(side, quote);
  const problems = levelProblems(
    asset,
    side,
    liquidationPrice(side, entry, leverage),
    reference,
    fields.stopLoss ?? null,
    fields.takeProfit ?? null,
  );
  return problems.stopLoss ?? problems.takeProfit;
}

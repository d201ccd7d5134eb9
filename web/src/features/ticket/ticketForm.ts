// The ticket's fields, checked: what the trader typed -> an order, or what is wrong, in words.
import { toUnits } from "../../lib/decimal";
import { formatUsd, parseUsd } from "../../lib/money";

export interface TicketInput {
  margin: string;
  leverage: string;
  /** percent: "1" is 1 % (100 basis points) */
  slippage: string;
}

export interface TicketFields {
  margin: bigint;
  leverage: number;
  slippageBps: number;
}

export type TicketErrors = Partial<Record<keyof TicketInput, string>>;

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

export function checkTicket(input: TicketInput, balance?: bigint): TicketCheck {
  const margin = checkMargin(input.margin, balance);
  const leverage = checkLeverage(input.leverage);
  const slippage = checkSlippage(input.slippage);
  if (typeof margin === "bigint" && typeof leverage === "number" && typeof slippage === "number") {
    return { ok: true, fields: { margin, leverage, slippageBps: slippage } };
  }
  const errors: TicketErrors = {};
  if (typeof margin === "string") errors.margin = margin;
  if (typeof leverage === "string") errors.leverage = leverage;
  if (typeof slippage === "string") errors.slippage = slippage;
  return { ok: false, errors };
}

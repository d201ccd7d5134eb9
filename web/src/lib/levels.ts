// Which triggers, stop losses and take profits the engine accepts (src/exness/domain/orders.py
// check_trigger and check_protection), said in a trader's words before anything is sent.
import type { AssetSymbol } from "./assets";
import { formatPrice } from "./money";
import type { BidAsk, Side } from "./preview";

export type PendingKind = "limit" | "stop";

/**
 * A long limit waits for the ask to fall to its trigger, a long stop for it to rise; a short
 * limit for the bid to rise, a short stop for it to fall. A trigger already crossed is refused.
 */
export function triggerProblem(
  asset: AssetSymbol,
  side: Side,
  kind: PendingKind,
  trigger: bigint,
  quote: BidAsk,
): string | undefined {
  const at = (units: bigint) => formatPrice(asset, units);
  if (side === "long") {
    if (kind === "limit" && !(trigger < quote.ask)) {
      return `a buy limit's trigger must be below the ask ${at(quote.ask)}`;
    }
    if (kind === "stop" && !(trigger > quote.ask)) {
      return `a buy stop's trigger must be above the ask ${at(quote.ask)}`;
    }
  } else {
    if (kind === "limit" && !(trigger > quote.bid)) {
      return `a sell limit's trigger must be above the bid ${at(quote.bid)}`;
    }
    if (kind === "stop" && !(trigger < quote.bid)) {
      return `a sell stop's trigger must be below the bid ${at(quote.bid)}`;
    }
  }
  return undefined;
}

export interface LevelProblems {
  stopLoss?: string;
  takeProfit?: string;
}

/**
 * Stop loss and take profit on either side of `reference` (the bid for a long, the ask for a
 * short; a pending order's trigger), the stop loss short of liquidation:
 * long — liquidation < SL < reference < TP; short — TP < reference < SL < liquidation.
 */
export function levelProblems(
  asset: AssetSymbol,
  side: Side,
  liquidation: bigint,
  reference: bigint,
  stopLoss: bigint | null,
  takeProfit: bigint | null,
): LevelProblems {
  const at = (units: bigint) => formatPrice(asset, units);
  const problems: LevelProblems = {};
  if (side === "long") {
    if (stopLoss !== null && !(liquidation < stopLoss && stopLoss < reference)) {
      problems.stopLoss =
        `a long's stop loss must be above its liquidation price ${at(liquidation)} ` +
        `and below ${at(reference)}`;
    }
    if (takeProfit !== null && !(takeProfit > reference)) {
      problems.takeProfit = `a long's take profit must be above ${at(reference)}`;
    }
  } else {
    if (stopLoss !== null && !(reference < stopLoss && stopLoss < liquidation)) {
      problems.stopLoss =
        `a short's stop loss must be above ${at(reference)} ` +
        `and below its liquidation price ${at(liquidation)}`;
    }
    if (takeProfit !== null && !(takeProfit < reference)) {
      problems.takeProfit = `a short's take profit must be below ${at(reference)}`;
    }
  }
  return problems;
}

// Wire readers shared by the endpoint modules.
import { ASSETS, isAssetSymbol, type AssetSymbol } from "../lib/assets";
import { USD_DECIMALS } from "../lib/money";
import type { Side } from "../lib/preview";
import { ApiError } from "./errors";
import { decimal, string, type WireObject } from "./wire";

export function assetOf(source: WireObject, key = "asset"): AssetSymbol {
  const symbol = string(source, key);
  if (!isAssetSymbol(symbol)) {
    throw new ApiError(`the server named an unknown asset ${symbol}`, 0, undefined, "decode");
  }
  return symbol;
}

export function sideOf(source: WireObject, key = "type"): Side {
  const side = string(source, key).toLowerCase();
  if (side !== "long" && side !== "short") {
    throw new ApiError(`the server named an unknown side ${side}`, 0, undefined, "decode");
  }
  return side;
}

/** A price in human units (`150.25`) in the asset's units. */
export function priceOf(source: WireObject, key: string, asset: AssetSymbol): bigint {
  return decimal(source, key, ASSETS[asset].decimals);
}

/** A USD amount in human units (`-12.5`) in cents. */
export function usdOf(source: WireObject, key: string): bigint {
  return decimal(source, key, USD_DECIMALS);
}

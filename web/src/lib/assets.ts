// The tradable assets and the units their prices are counted in (SPEC §3), as in
// src/exness/domain/assets.py: a SOL price of 150.25 is the integer 150_250_000.

export const ASSET_SYMBOLS = ["SOL", "ETH", "BTC"] as const;
export type AssetSymbol = (typeof ASSET_SYMBOLS)[number];

export interface AssetInfo {
  symbol: AssetSymbol;
  name: string;
  decimals: number;
}

export const ASSETS: Readonly<Record<AssetSymbol, AssetInfo>> = {
  SOL: { symbol: "SOL", name: "Solana", decimals: 6 },
  ETH: { symbol: "ETH", name: "Ethereum", decimals: 6 },
  BTC: { symbol: "BTC", name: "Bitcoin", decimals: 4 },
};

export function isAssetSymbol(value: string): value is AssetSymbol {
  return (ASSET_SYMBOLS as readonly string[]).includes(value);
}

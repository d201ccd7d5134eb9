"""The tradable assets and the units their prices are counted in (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ASSETS", "Asset", "by_backpack_symbol"]


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    name: str
    decimals: int  # a price of 201.47 with 6 decimals is the integer 201_470_000
    image_url: str
    backpack_symbol: str  # the market whose bookTicker quotes this asset in USD

    @property
    def scale(self) -> int:
        return int(10**self.decimals)


ASSETS: dict[str, Asset] = {
    asset.symbol: asset
    for asset in (
        Asset(
            "SOL",
            "Solana",
            6,
            "https://assets.coingecko.com/coins/images/4128/large/solana.png",
            "SOL_USDC",
        ),
        Asset(
            "ETH",
            "Ethereum",
            6,
            "https://assets.coingecko.com/coins/images/279/large/ethereum.png",
            "ETH_USDC",
        ),
        Asset(
            "BTC",
            "Bitcoin",
            4,
            "https://assets.coingecko.com/coins/images/1/large/bitcoin.png",
            "BTC_USDC",
        ),
    )
}

_BY_BACKPACK = {asset.backpack_symbol: asset for asset in ASSETS.values()}


def by_backpack_symbol(market: str) -> Asset | None:
    return _BY_BACKPACK.get(market)

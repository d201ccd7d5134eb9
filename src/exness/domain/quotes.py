"""Bid and ask (SPEC §7.1): what a tick becomes in the engine.

Every quote has `bid ≤ ask`; a feed without them quotes bid = ask = price (the mid).
`SPREAD_MARKUP_BPS` widens both sides by that many basis points of the mid, rounded in the
house's favour: the bid down, the ask up (never below one price unit). `price` stays the
feed's mid, as the `price-ASSET` keys and candles show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from exness.domain.money import ceil_div

__all__ = ["Quote", "quote_of"]


@dataclass(slots=True)
class Quote:
    """The newest price the engine holds for an asset, in its units."""

    price: int  # the mid
    ts: int  # the feed's event time, µs
    bid: int
    ask: int

    def buy(self) -> int:
        """What a long opens at (and a short closes at): the ask."""
        return self.ask

    def sell(self) -> int:
        """What a short opens at (and a long closes at): the bid."""
        return self.bid


def quote_of(price: int, ts: int, bid: int | None, ask: int | None, markup_bps: int) -> Quote:
    """The engine's quote for a tick: the feed's bid and ask (or the mid) widened by the
    markup."""
    bid = price if bid is None else bid
    ask = price if ask is None else ask
    if markup_bps:
        widen = price * markup_bps
        bid = max(1, (bid * 10_000 - widen) // 10_000)
        ask = ceil_div(ask * 10_000 + widen, 10_000)
    return Quote(price, ts, bid, ask)

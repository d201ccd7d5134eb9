"""A leveraged position and its exact arithmetic (SPEC §3, §7).

A position holds margin `m` (cents) at leverage `L` from entry price `P0`; its exposure is
`m·L`. At price `P` a long earns `m·L·(P−P0)/P0` and a short `m·L·(P0−P)/P0`, rounded
half-to-even to the cent. The liquidation price, where the loss equals the margin, is
`P0·(L−1)/L` for a long and `P0·(L+1)/L` for a short. A long is valued and closed at the
bid, a short at the ask (SPEC §7.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from exness.domain.money import ceil_div

__all__ = [
    "LONG",
    "SHORT",
    "SIDES",
    "Position",
    "Side",
    "is_liquidated_at",
    "liquidation_trigger",
    "pnl",
]

Side = Literal["long", "short"]
LONG: Side = "long"
SHORT: Side = "short"
SIDES: tuple[Side, ...] = (LONG, SHORT)


def liquidation_trigger(side: Side, open_price: int, leverage: int) -> int:
    """The liquidation price in whole price units, exact for integer ticks.

    Ticks are integers, so "price ≤ P0·(L−1)/L" holds exactly when "price ≤ floor(P0·(L−1)/L)",
    and "price ≥ P0·(L+1)/L" exactly when "price ≥ ceil(P0·(L+1)/L)". Keeping the trigger as an
    integer makes every later comparison an integer comparison, with no rational on the hot path.
    """
    if side == LONG:
        return open_price * (leverage - 1) // leverage
    return ceil_div(open_price * (leverage + 1), leverage)


def is_liquidated_at(side: Side, trigger: int, price: int) -> bool:
    """`price` is the bid for a long and the ask for a short."""
    return price <= trigger if side == LONG else price >= trigger


def pnl(side: Side, margin: int, leverage: int, open_price: int, price: int) -> int:
    """Profit (or loss, negative) in cents of `margin` at `leverage` closed at `price`."""
    move = price - open_price if side == LONG else open_price - price
    # div_round_half_even written out (a price is positive): every close runs this
    value, rest = divmod(margin * leverage * move, open_price)
    rest += rest
    if rest > open_price or (rest == open_price and value & 1):
        value += 1
    return value


@dataclass(slots=True)
class Position:
    """An open position. Never mutated once made (replies and snapshots may hold it); a change
    (a partial close, new SL/TP) makes a new one. Not frozen, because a frozen dataclass is
    slower to build on the hot path."""

    order_id: str
    user_id: str
    asset: str
    side: Side
    margin: int  # cents still open
    leverage: int
    open_price: int  # asset price units
    liquidation_price: int  # asset price units, see liquidation_trigger()
    opened_at: int  # µs since the epoch, from the command (or tick) that opened it
    stop_loss: int | None = None  # asset price units
    take_profit: int | None = None

    def pnl_at(self, price: int) -> int:
        """Profit (or loss, negative) in cents if the position were closed at `price`."""
        return pnl(self.side, self.margin, self.leverage, self.open_price, price)

    # New positions with one thing changed: spelled out, because dataclasses.replace() costs
    # several times more and these are on the hot path.

    def with_margin(self, margin: int) -> Position:
        """What is left open after a partial close: the same terms, less margin."""
        return Position(
            self.order_id,
            self.user_id,
            self.asset,
            self.side,
            margin,
            self.leverage,
            self.open_price,
            self.liquidation_price,
            self.opened_at,
            self.stop_loss,
            self.take_profit,
        )

    def with_protection(self, stop_loss: int | None, take_profit: int | None) -> Position:
        return Position(
            self.order_id,
            self.user_id,
            self.asset,
            self.side,
            self.margin,
            self.leverage,
            self.open_price,
            self.liquidation_price,
            self.opened_at,
            stop_loss,
            take_profit,
        )

    def is_liquidated_at(self, price: int) -> bool:
        return is_liquidated_at(self.side, self.liquidation_price, price)

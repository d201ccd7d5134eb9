"""A trader's account at a glance (SPEC §7.6), computed exactly from integers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exness.domain.money import div_round_half_even

__all__ = ["Account"]


@dataclass(frozen=True, slots=True)
class Account:
    balance: int  # free cents
    reserved: int  # cents held by pending orders
    used_margin: int  # cents in open positions
    unrealized_pnl: int  # cents at the current bid/ask, each position's loss capped at its margin
    open_positions: int
    pending_orders: int

    @property
    def equity(self) -> int:
        return self.balance + self.reserved + self.used_margin + self.unrealized_pnl

    @property
    def margin_level(self) -> Decimal | None:
        """equity / used margin × 100, to 2 places half-even; None with no open position."""
        if self.used_margin == 0:
            return None
        hundredths = div_round_half_even(self.equity * 10_000, self.used_margin)
        return Decimal(hundredths).scaleb(-2)

"""The engine's whole state as one typed value: what a snapshot holds.

`Engine.state()` gives it and `Engine.from_state()` rebuilds an engine from it; the JSON
form (versioned) lives in `exness.codec.snapshot`, the one definition of the snapshot
format that the engine service, the snapshot store and tests share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from exness.domain.messages import Quote, Reply
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position

__all__ = ["ClosedOrder", "EngineState", "Ledger", "Outcome", "RecentReply"]

Outcome = Literal["closed", "liquidated", "cancelled"]


class ClosedOrder(NamedTuple):
    """What the engine remembers of an order that is no longer open (to answer 403/409). A
    named tuple: one is made per close, and it is the cheapest immutable record to build."""

    owner: str
    outcome: Outcome

    @property
    def liquidated(self) -> bool:
        return self.outcome == "liquidated"


class RecentReply(NamedTuple):
    """A state-changing request's answer, kept to answer a redelivery the same way. (A named
    tuple: one is made per command, and it is the cheapest immutable record to build.)"""

    reply: Reply
    until: int  # µs: kept until then (Engine._evict)


@dataclass(slots=True)
class Ledger:
    """Running totals that the SPEC §3 invariant is stated in (all cents)."""

    deposits: int = 0
    realized_pnl: int = 0  # of closes other than liquidations, after the max(0, m + pnl) floor
    liquidated_margin: int = 0  # margins lost to liquidation

    def expected_value(self) -> int:
        return self.deposits + self.realized_pnl - self.liquidated_margin


@dataclass(slots=True)
class EngineState:
    balances: dict[str, int] = field(default_factory=dict)  # user id -> free cents
    positions: list[Position] = field(default_factory=list)  # open, oldest first
    pending: list[PendingOrder] = field(default_factory=list)  # waiting, oldest first
    closed: dict[str, ClosedOrder] = field(default_factory=dict)  # order id -> outcome
    quotes: dict[str, Quote] = field(default_factory=dict)  # asset -> newest quote
    # oldest first (dedupe): those sent once, then those that may be sent again
    recent_replies: list[RecentReply] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)

"""Orders lived through a real engine, and what the database must hold for them at the end.

`Lives` drives a domain Engine (tests.unit.helpers.Desk) through whole order lives drawn at
random: a market order, or a limit/stop order that is modified while it waits and then
cancelled, left waiting or filled by a tick; then partial closes and modifications of the
position in any mix, and an end: still open, closed by hand, by its stop loss, its take
profit or a liquidation. It keeps the engine's DB operations in the order the engine sent
them. `expected(operations)` folds them, in that order, into the `trades` and `trade_closes`
rows the DB writer must converge to, whatever order and repetition they arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from hypothesis import strategies as st

from exness.domain.assets import ASSETS
from exness.domain.messages import (
    DbOperation,
    InitializeWallet,
    OrderCancelled,
    PriceTick,
    Reply,
    TradeClosed,
    TradeOpened,
    UserCreated,
    db_operations,
)
from exness.domain.money import to_decimal
from exness.domain.orders import PendingOrder
from exness.domain.positions import LONG, liquidation_trigger
from tests.unit.helpers import Desk

__all__ = ["ASSET_IDS", "Lives", "Plan", "expected", "plans"]

ASSET_IDS = {"SOL": 1, "ETH": 2, "BTC": 3}
BASE = {"SOL": 100_000_000, "ETH": 2_000_000_000, "BTC": 600_000_000}  # 100, 2000, 60000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Kind = Literal["market", "limit", "stop"]
End = Literal["open", "manual", "sl", "tp", "liquidation"]


@dataclass(frozen=True)
class Plan:
    side: Literal["long", "short"]
    kind: Kind
    leverage: int
    margin: int
    pending_modifies: int = 0
    pending_end: Literal["fill", "cancel", "wait"] = "fill"
    # after the open: ("close", cents) or ("modify", n), in order
    steps: tuple[tuple[str, int], ...] = ()
    end: End = "open"


@st.composite
def plans(draw: Any) -> Plan:
    margin = draw(st.integers(500, 50_000))
    steps: list[tuple[str, int]] = []
    left = margin
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()) and left > 1:
            part = draw(st.integers(1, left - 1))
            steps.append(("close", part))
            left -= part
        else:
            steps.append(("modify", len(steps)))
    return Plan(
        side=draw(st.sampled_from(["long", "short"])),
        kind=draw(st.sampled_from(["market", "limit", "stop"])),
        leverage=draw(st.sampled_from([2, 5, 10, 50])),
        margin=margin,
        pending_modifies=draw(st.integers(0, 2)),
        pending_end=draw(st.sampled_from(["fill", "fill", "cancel", "wait"])),
        steps=tuple(steps),
        end=draw(st.sampled_from(["open", "manual", "sl", "tp", "liquidation"])),
    )


def _levels(side: str, liquidation: int, reference: int, nudge: int = 0) -> tuple[int, int]:
    """A valid stop loss (moved by `nudge` tenths of the room it has) and take profit."""
    room = abs(reference - liquidation)
    if side == LONG:
        return liquidation + room // 2 + nudge * room // 10, reference * 11 // 10
    return reference + room // 2 - nudge * room // 10, reference * 9 // 10


@dataclass
class Lives:
    desk: Desk = field(default_factory=Desk)
    operations: list[DbOperation] = field(default_factory=list)

    def _take(self, events: list[Any]) -> None:
        reply = events[0] if events and isinstance(events[0], Reply) else None
        assert reply is None or reply.ok, reply
        self.operations.extend(db_operations(events))

    def wallet(self, user: str) -> None:
        self.desk.now += 1
        wallet = InitializeWallet(f"w-{user}", user, f"{user}@x.io", ts=self.desk.now)
        self._take(self.desk.engine.apply(wallet))

    def price(self, asset: str, units: int) -> None:
        self.desk.now += 1_000
        self._take(self.desk.engine.on_price(PriceTick(asset, units, self.desk.now)))

    def live(self, user: str, order_id: str, asset: str, plan: Plan) -> None:
        desk, side, leverage = self.desk, plan.side, plan.leverage
        price = BASE[asset]
        self.price(asset, price)
        if plan.kind == "market":
            reference = price
            stop_loss, take_profit = _levels(
                side, liquidation_trigger(side, price, leverage), price
            )
            extra: dict[str, Any] = {}
        else:
            below = (side == LONG) == (plan.kind == "limit")
            reference = price * 95 // 100 if below else price * 105 // 100
            liquidation = liquidation_trigger(side, reference, leverage)
            stop_loss, take_profit = _levels(side, liquidation, reference)
            extra = {"order_type": plan.kind, "trigger_price": reference}
        self._take(
            desk.open(
                user,
                asset,
                side,
                plan.margin,
                leverage,
                order_id=order_id,
                stop_loss=stop_loss,
                take_profit=take_profit,
                **extra,
            )
        )
        if plan.kind != "market":
            liquidation = liquidation_trigger(side, reference, leverage)
            for n in range(plan.pending_modifies):
                stop_loss, _ = _levels(side, liquidation, reference, n + 1)
                self._take(desk.modify(user, order_id, stop_loss=stop_loss))
            if plan.pending_end == "cancel":
                self._take(desk.cancel(user, order_id))
                return
            if plan.pending_end == "wait":
                return
            self.price(asset, reference)  # crosses the trigger: fills there
        position = desk.engine.position(order_id)
        assert position is not None
        opened, liquidation = position.open_price, position.liquidation_price
        better = opened * 1001 // 1000 if side == LONG else opened * 999 // 1000
        for action, value in plan.steps:
            if action == "close":
                self.price(asset, better)
                self._take(desk.close(user, order_id, value))
            else:
                stop_loss, _ = _levels(side, liquidation, opened, value % 4)
                self._take(desk.modify(user, order_id, stop_loss=stop_loss))
        position = desk.engine.position(order_id)
        assert position is not None and position.stop_loss is not None
        assert position.take_profit is not None
        if plan.end == "manual":
            self._take(desk.close(user, order_id))
        elif plan.end == "sl":
            self.price(asset, (liquidation + position.stop_loss) // 2)
        elif plan.end == "tp":
            self.price(asset, position.take_profit + (1 if side == LONG else -1))
        elif plan.end == "liquidation":
            self.price(asset, liquidation - 1 if side == LONG else liquidation + 1)
        if plan.end != "open":
            assert desk.engine.position(order_id) is None, (order_id, plan)


def _when(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _usd(cents: int) -> Decimal:
    return to_decimal(cents, 2)


def _price(asset: str, units: int | None) -> Decimal | None:
    return None if units is None else to_decimal(units, ASSETS[asset].decimals)


def expected(operations: list[DbOperation]) -> tuple[dict[str, dict], dict[str, list[tuple]]]:
    """The `trades` rows (order id -> columns) and `trade_closes` rows (order id -> tuples,
    oldest first) that `operations`, taken once each in the engine's order, describe."""
    trades: dict[str, dict[str, Any]] = {}
    closes: dict[str, list[tuple]] = {}
    for operation in operations:
        if isinstance(operation, UserCreated):
            continue
        order = (
            operation.position
            if isinstance(operation, TradeOpened | TradeClosed)
            else operation.order
        )
        asset = order.asset
        row = trades.setdefault(
            order.order_id,
            {
                "user_id": order.user_id,
                "asset_id": ASSET_IDS[asset],
                "trade_type": order.side.upper(),
                "leverage": order.leverage,
                "margin": _usd(order.margin),
                "trigger_price": None,
                "open_price": None,
                "liquidation_price": None,
                "opened_at": None,
                "closed_at": None,
                "pnl": None,
                "close_price": None,
                "close_reason": None,
                "last_close_margin": None,
                "liquidated": False,
            },
        )
        # every operation carries the order's levels as they are then: the last one's stay
        row["stop_loss"] = _price(asset, order.stop_loss)
        row["take_profit"] = _price(asset, order.take_profit)
        if isinstance(order, PendingOrder):
            row["order_type"] = order.order_type
            row["trigger_price"] = _price(asset, order.trigger_price)
            row["created_at"] = _when(order.placed_at)
            row["open_margin"] = _usd(order.margin)
        else:
            row["open_price"] = _price(asset, order.open_price)
            row["liquidation_price"] = _price(asset, order.liquidation_price)
            row["opened_at"] = _when(order.opened_at)
            row["open_margin"] = _usd(order.margin)
        if isinstance(operation, TradeOpened) and not operation.filled:
            row["order_type"] = "market"
            row["created_at"] = _when(operation.position.opened_at)
        if isinstance(operation, OrderCancelled):
            row["open_margin"] = _usd(0)
            row["closed_at"] = _when(operation.cancelled_at)
            row["status"] = "cancelled"
        elif isinstance(operation, TradeClosed):
            row["open_margin"] = _usd(operation.remaining)
            row["pnl"] = (row["pnl"] or _usd(0)) + _usd(operation.pnl)
            row["close_price"] = _price(asset, operation.close_price)
            row["close_reason"] = operation.reason
            row["last_close_margin"] = _usd(operation.position.margin)
            row["liquidated"] = row["liquidated"] or operation.liquidated
            if operation.remaining == 0:
                row["closed_at"] = _when(operation.closed_at)
            closes.setdefault(order.order_id, []).append(
                (
                    _usd(operation.position.margin),
                    _usd(operation.margin),
                    _price(asset, operation.close_price),
                    _usd(operation.pnl),
                    operation.reason,
                    _when(operation.closed_at),
                )
            )
    for row in trades.values():
        if row["closed_at"] is not None:
            row["status"] = "closed" if row["opened_at"] is not None else "cancelled"
        else:
            row["status"] = "open" if row["opened_at"] is not None else "pending"
    return trades, closes

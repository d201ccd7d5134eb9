"""The trading engine core: the single writer of balances, positions, orders and prices.

`Engine.apply(command)` and `Engine.on_price(tick)` return the events they cause; nothing
else changes the state. There are no clock reads, no random ids and no I/O here: order
ids and times come in the input, so replaying the same inputs rebuilds the same state,
and `state()` / `from_state()` round-trip it exactly.

Conventions the adapters rely on:
- `apply()` returns the command's `Reply` first, then any DB operations.
- A rejection changes nothing: every handler checks everything before it mutates.
- A state-changing command redelivered with the same request id is not applied again; the
  first reply is returned again (kept for `dedupe_window_us`, at least the last
  `dedupe_count`, at most `dedupe_max`).
- A command taken after its `deadline` is refused and not remembered: its sender gave up,
  and a retry with the same request id is applied (SPEC §7.5).
- So the answer to a request that is sent once (its id not starting with `resent_prefix`)
  is kept only until its deadline, if it has one: a copy taken later is refused anyway.
  Only the ids a client may send again later (a retry with the same Idempotency-Key) are
  kept the whole window. Under load the kept answers are most of a snapshot.

Execution (SPEC §7): a long opens at the ask and is valued and closed at the bid; a short
the other way round. Every price-triggered action (liquidation, stop loss, take profit, a
pending order's fill) sits in the asset's TriggerBook; a tick fires what it crosses: first
the pending orders it fills (so a stop loss or take profit attached at the fill can fire on
the same tick), then the exits, each in the book's fire order. An exit that the tick also
takes past the liquidation price is a liquidation, whatever fired it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from exness.domain.account import Account
from exness.domain.assets import ASSETS
from exness.domain.errors import (
    DeadlineExceeded,
    DuplicateOrder,
    InsufficientBalance,
    InvalidCommand,
    NotOrderOwner,
    OrderAlreadyClosed,
    OrderIsPending,
    OrderNotPending,
    PriceUnavailable,
    Rejection,
    SlippageExceeded,
    StalePrice,
    UnknownOrder,
    WalletNotFound,
)
from exness.domain.messages import (
    Balance,
    Cancelled,
    CancelOrder,
    CloseReason,
    CloseTrade,
    Command,
    CreateTrade,
    Event,
    GetAccount,
    GetOpenTrades,
    GetPendingOrders,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    Modified,
    ModifyTrade,
    OpenPosition,
    OpenPositions,
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    PendingOrders,
    PendingPlaced,
    PositionClosed,
    PositionOpened,
    PriceTick,
    Reply,
    TradeClosed,
    TradeOpened,
    UserCreated,
    WalletOpened,
)
from exness.domain.orders import (
    LIMIT,
    MARKET,
    ORDER_TYPES,
    PendingOrder,
    check_protection,
    check_trigger,
)
from exness.domain.positions import LONG, SIDES, Position, liquidation_trigger, pnl
from exness.domain.quotes import Quote, quote_of
from exness.domain.state import ClosedOrder, EngineState, Ledger, Outcome, RecentReply
from exness.domain.totals import AccountTotals, exposure
from exness.domain.triggers import (
    ASK_FALLS,
    ASK_RISES,
    BID_FALLS,
    BID_RISES,
    LIQUIDATION,
    PENDING,
    STOP_LOSS,
    TAKE_PROFIT,
    TriggerBook,
)

__all__ = ["MAX_LEVERAGE", "Engine", "EngineConfig"]

MAX_LEVERAGE = 100
MAX_SLIPPAGE_BPS = 10_000
MAX_MARKUP_BPS = 1_000
DEDUPE_WINDOW_US = 120_000_000


@dataclass(frozen=True, slots=True)
class EngineConfig:
    price_max_age_us: int = 10_000_000
    initial_balance: int = 500_000  # USD 5,000.00
    spread_markup_bps: int = 0  # SPEC §7.1: widens bid and ask around the mid
    dedupe_count: int = 10_000  # answers of state-changing requests always kept...
    dedupe_window_us: int = DEDUPE_WINDOW_US  # ... and any younger than this ...
    dedupe_max: int = 500_000  # ... up to this many (give or take a step)
    dedupe_step: int = 1_024  # how often (in answers kept) to look for answers to forget
    # Request ids that may be sent again after their deadline (with a new one): a client's
    # retries. The answer to any other id is kept only until its command's deadline.
    # "": every id may be.
    resent_prefix: str = ""


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        if not 0 <= self.config.spread_markup_bps <= MAX_MARKUP_BPS:
            raise ValueError(f"spread_markup_bps must be from 0 to {MAX_MARKUP_BPS}")
        self._balances: dict[str, int] = {}
        self._positions: dict[str, Position] = {}
        self._pending: dict[str, PendingOrder] = {}
        # per user, insertion-ordered sets (dicts to None) of open and pending order ids
        self._open_by_user: dict[str, dict[str, None]] = {}
        self._pending_by_user: dict[str, dict[str, None]] = {}
        self._closed: dict[str, ClosedOrder] = {}
        self._books: dict[str, TriggerBook] = {symbol: TriggerBook() for symbol in ASSETS}
        self._quotes: dict[str, Quote] = {}
        # request id -> (answer, kept until µs), oldest first: of requests that may be sent
        # again (resent_prefix), and of those sent once, whose answers go sooner. OrderedDicts,
        # because evicting the oldest key of a plain dict (`next(iter(d))`) gets slower with
        # every deletion until the next resize.
        self._recent: OrderedDict[str, tuple[Reply, int]] = OrderedDict()
        self._recent_once: OrderedDict[str, tuple[Reply, int]] = OrderedDict()
        # read on every command (the config is frozen)
        self._resent_prefix = self.config.resent_prefix
        self._resent_prefix_length = len(self._resent_prefix)
        self._dedupe_window_us = self.config.dedupe_window_us
        self._dedupe_step = self.config.dedupe_step
        self._reserved = 0  # cents held by all pending orders (for the invariant)
        self._used = 0  # cents in all open positions
        self._totals = AccountTotals()  # each trader's, for account()
        self.ledger = Ledger()
        # command type -> (handler, whether it changes state and so is applied at most once)
        self._handlers: dict[type[Any], tuple[Callable[[Any], list[Event]], bool]] = {
            InitializeWallet: (self._initialize_wallet, True),
            CreateTrade: (self._create_trade, True),
            CloseTrade: (self._close_trade, True),
            ModifyTrade: (self._modify_trade, True),
            CancelOrder: (self._cancel_order, True),
            GetUserBalance: (self._user_balance, False),
            GetUsdcBalance: (self._user_balance, False),
            GetOpenTrades: (self._open_trades, False),
            GetPendingOrders: (self._pending_orders, False),
            GetAccount: (self._account, False),
        }

    # ---- inputs ------------------------------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Apply one command; the first event is always its `Reply`."""
        handler, changes_state = self._handlers[type(command)]
        if changes_state:
            request_id = command.request_id
            # a slice compare: str.startswith parses its arguments the slow way
            resent = request_id[: self._resent_prefix_length] == self._resent_prefix
            recent = self._recent if resent else self._recent_once
            seen = recent.get(request_id)
            if seen is not None:
                return [seen[0]]
        deadline = command.deadline
        if deadline is not None and command.ts > deadline:
            late = DeadlineExceeded(
                f"the request reached the engine {(command.ts - deadline) / 1e6:.3f} s after "
                "its deadline and was not applied; retry it with the same Idempotency-Key"
            )
            return [Reply.rejected(command.request_id, late.code, late.message)]
        try:
            events = handler(command)
        except Rejection as rejection:
            events = [Reply.rejected(command.request_id, rejection.code, rejection.message)]
        if changes_state:
            until = command.ts + self._dedupe_window_us
            if not resent and deadline is not None and deadline < until:
                until = deadline
            recent[request_id] = (events[0], until)  # type: ignore[assignment]  # a Reply, first
            if len(recent) % self._dedupe_step == 0:
                self._evict(recent, command.ts)
        return events

    def on_price(self, tick: PriceTick) -> list[Event]:
        """Take a price; fire every liquidation, stop loss, take profit and pending order it
        crosses, at the tick's bid (longs) or ask (shorts).

        A tick older (by feed time) than the asset's newest quote is out of order and ignored:
        it must neither replace a newer price nor fire orders placed after it.
        """
        asset, price = tick.asset, tick.price
        if asset not in ASSETS:
            raise InvalidCommand(f"unknown asset {asset!r}")
        if type(price) is not int or price <= 0 or type(tick.ts) is not int:
            raise InvalidCommand("a price must be a positive integer with an integer time")
        current = self._quotes.get(asset)
        if current is not None and tick.ts < current.ts:
            return []
        quote = quote_of(price, tick.ts, tick.bid, tick.ask, self.config.spread_markup_bps)
        self._quotes[asset] = quote
        book = self._books[asset]
        fired = book.pop_crossed(quote.bid, quote.ask)
        if not fired:
            return []
        events: list[Event] = []
        while fired:  # a second round fires what the first round's fills attached
            for kind, order_id in fired:
                if kind == PENDING:
                    events.append(self._fill(order_id, quote))
            for kind, order_id in fired:
                if kind != PENDING and order_id in self._positions:
                    events.append(self._exit(kind, self._positions[order_id], quote))
            fired = book.pop_crossed(quote.bid, quote.ask)
        return events

    # ---- views -------------------------------------------------------------------------------

    def balance(self, user_id: str) -> int | None:
        return self._balances.get(user_id)

    def position(self, order_id: str) -> Position | None:
        return self._positions.get(order_id)

    def pending_order(self, order_id: str) -> PendingOrder | None:
        return self._pending.get(order_id)

    def quote(self, asset: str) -> Quote | None:
        return self._quotes.get(asset)

    @property
    def open_positions(self) -> int:
        """How many positions are open (all traders)."""
        return len(self._positions)

    def positions(self) -> Iterator[Position]:
        """Every open position, oldest first. Positions are never mutated."""
        return iter(self._positions.values())

    def pending_orders(self) -> Iterator[PendingOrder]:
        """Every pending order, oldest first."""
        return iter(self._pending.values())

    def closed_orders(self) -> Mapping[str, ClosedOrder]:
        """Every order that was open or pending once and is not any more (read-only)."""
        return self._closed

    def balances(self) -> Mapping[str, int]:
        """Each trader's free balance in cents (read-only)."""
        return self._balances

    def account(self, user_id: str) -> Account:
        """The trader's account (SPEC §7.6), at the latest bid/ask of each asset."""
        balance = self._wallet(user_id)
        totals, open_ids = self._totals, self._open_by_user[user_id]
        unrealized = totals.unrealized(user_id, self._quotes)
        return Account(
            balance,
            totals.reserved(user_id),
            totals.used(user_id),
            unrealized,
            len(open_ids),
            len(self._pending_by_user[user_id]),
        )

    def _account_by_pass(self, user_id: str) -> Account:
        """account() the slow way, a pass over the trader's orders (to check the totals)."""
        positions, quotes = self._positions, self._quotes
        used = unrealized = 0
        open_ids = self._open_by_user[user_id]
        for order_id in open_ids:
            position = positions[order_id]
            used += position.margin
            quote = quotes.get(position.asset)
            if quote is not None:
                unrealized += exposure(position, quote.bid, quote.ask)
        pending_ids = self._pending_by_user[user_id]
        reserved = sum(self._pending[order_id].margin for order_id in pending_ids)
        balance = self._balances[user_id]
        return Account(balance, reserved, used, unrealized, len(open_ids), len(pending_ids))

    def total_value(self) -> int:
        """Cents held by the platform for traders: wallets, open margins, reserved margins."""
        return sum(self._balances.values()) + self._used + self._reserved

    def check_invariant(self) -> None:
        """SPEC §7: wallets + open margins + reserved margins = deposits + realized PnL − margins
        lost to liquidation; and the running totals agree with the orders."""
        held, expected = self.total_value(), self.ledger.expected_value()
        if held != expected:
            raise AssertionError(f"money invariant broken: held {held} != expected {expected}")
        used = sum(position.margin for position in self._positions.values())
        reserved = sum(order.margin for order in self._pending.values())
        if (used, reserved) != (self._used, self._reserved):
            raise AssertionError(
                f"running totals broken: used {self._used} (orders say {used}), "
                f"reserved {self._reserved} (orders say {reserved})"
            )
        for user_id in self._balances:
            kept, counted = self.account(user_id), self._account_by_pass(user_id)
            if kept != counted:
                raise AssertionError(f"{user_id}'s account {kept} != {counted} by a pass")

    # ---- command handlers --------------------------------------------------------------------

    def _initialize_wallet(self, command: InitializeWallet) -> list[Event]:
        balance = self._balances.get(command.user_id)
        if balance is not None:
            return [Reply(command.request_id, WalletOpened(balance, created=False))]
        balance = self.config.initial_balance
        self._balances[command.user_id] = balance
        self._open_by_user[command.user_id] = {}
        self._pending_by_user[command.user_id] = {}
        self.ledger.deposits += balance
        return [
            Reply(command.request_id, WalletOpened(balance, created=True)),
            UserCreated(command.user_id, command.email, balance, command.ts),
        ]

    def _create_trade(self, command: CreateTrade) -> list[Event]:
        _validate_trade(command)
        balance = self._balances.get(command.user_id)  # _wallet(), without a call
        if balance is None:
            raise _no_wallet(command.user_id)
        order_id = command.order_id
        if order_id in self._positions or order_id in self._pending or order_id in self._closed:
            raise DuplicateOrder(f"order id {order_id} is already taken")
        quote = self._fresh_quote(command.asset, command.ts)
        if command.margin > balance:
            raise InsufficientBalance(
                f"margin {command.margin} exceeds the balance {balance} (cents)"
            )
        if command.order_type == MARKET:
            return self._open_at_market(command, quote, balance)
        return self._place(command, quote, balance)

    def _open_at_market(self, command: CreateTrade, quote: Quote, balance: int) -> list[Event]:
        side = command.side
        price = quote.ask if side == LONG else quote.bid
        asked = command.quote
        if asked is not None and abs(price - asked) * 10_000 > command.slippage_bps * asked:
            raise SlippageExceeded(
                f"price moved from {asked} to {price} (asset units), "
                f"more than the {command.slippage_bps} bps allowed"
            )
        liquidation = liquidation_trigger(side, price, command.leverage)
        stop_loss, take_profit = command.stop_loss, command.take_profit
        if stop_loss is not None or take_profit is not None:
            check_protection(
                side,
                liquidation,
                quote.bid if side == LONG else quote.ask,
                stop_loss,
                take_profit,
            )
        position = Position(
            command.order_id,
            command.user_id,
            command.asset,
            side,
            command.margin,
            command.leverage,
            price,
            liquidation,
            command.ts,
            stop_loss,
            take_profit,
        )
        balance -= command.margin
        self._balances[command.user_id] = balance
        self._add_position(position)
        return [Reply(command.request_id, PositionOpened(position, balance)), TradeOpened(position)]

    def _place(self, command: CreateTrade, quote: Quote, balance: int) -> list[Event]:
        side, trigger = command.side, command.trigger_price
        assert trigger is not None  # _validate_trade
        check_trigger(side, command.order_type, trigger, quote.bid, quote.ask)
        if command.stop_loss is not None or command.take_profit is not None:
            check_protection(
                side,
                liquidation_trigger(side, trigger, command.leverage),
                trigger,
                command.stop_loss,
                command.take_profit,
            )
        order = PendingOrder(
            command.order_id,
            command.user_id,
            command.asset,
            side,
            command.order_type,
            trigger,
            command.margin,
            command.leverage,
            command.ts,
            command.stop_loss,
            command.take_profit,
        )
        balance -= command.margin
        self._balances[command.user_id] = balance
        self._pending[order.order_id] = order
        self._pending_by_user[order.user_id][order.order_id] = None
        self._reserved += order.margin
        self._totals.reserve(order.user_id, order.margin)
        self._books[order.asset].add(_fill_direction(order), PENDING, trigger, order.order_id)
        return [Reply(command.request_id, PendingPlaced(order, balance)), OrderPlaced(order)]

    def _close_trade(self, command: CloseTrade) -> list[Event]:
        position = self._owned_position(command.order_id, command.user_id)
        part = command.margin
        if part is not None and (type(part) is not int or not 0 < part <= position.margin):
            raise InvalidCommand(
                f"margin must be an integer number of cents from 1 to the position's "
                f"{position.margin}"
            )
        quote = self._fresh_quote(position.asset, command.ts)
        price = quote.bid if position.side == LONG else quote.ask
        close = self._settle(position, part or position.margin, price, "manual", command.ts)
        balance = self._balances[position.user_id]
        return [Reply(command.request_id, PositionClosed(close, balance)), close]

    def _modify_trade(self, command: ModifyTrade) -> list[Event]:
        order_id, user_id = command.order_id, command.user_id
        order: Position | PendingOrder | None = self._positions.get(order_id)
        if order is None:
            order = self._pending.get(order_id)
        if order is None:
            self._raise_finished(order_id, user_id, "modified")
        assert order is not None
        if order.user_id != user_id:
            raise NotOrderOwner(f"order {order_id} belongs to another user")
        stop_loss = command.stop_loss if command.change_stop_loss else order.stop_loss
        take_profit = command.take_profit if command.change_take_profit else order.take_profit
        if stop_loss is not None and (type(stop_loss) is not int or stop_loss <= 0):
            raise InvalidCommand("stopLoss must be a positive integer in the asset's units")
        if take_profit is not None and (type(take_profit) is not int or take_profit <= 0):
            raise InvalidCommand("takeProfit must be a positive integer in the asset's units")
        changed: Position | PendingOrder
        if isinstance(order, Position):
            quote = self._fresh_quote(order.asset, command.ts)
            reference = quote.bid if order.side == LONG else quote.ask
            check_protection(order.side, order.liquidation_price, reference, stop_loss, take_profit)
            changed = order.with_protection(stop_loss, take_profit)
            self._positions[order_id] = changed
            self._watch_protection(changed)
        else:
            liquidation = liquidation_trigger(order.side, order.trigger_price, order.leverage)
            check_protection(order.side, liquidation, order.trigger_price, stop_loss, take_profit)
            changed = order.with_protection(stop_loss, take_profit)
            self._pending[order_id] = changed
        return [Reply(command.request_id, Modified(changed)), OrderModified(changed, command.ts)]

    def _cancel_order(self, command: CancelOrder) -> list[Event]:
        order_id, user_id = command.order_id, command.user_id
        order = self._pending.get(order_id)
        if order is None:
            position = self._positions.get(order_id)
            if position is not None:
                if position.user_id != user_id:
                    raise NotOrderOwner(f"order {order_id} belongs to another user")
                raise OrderNotPending(f"order {order_id} has already filled; close it instead")
            self._raise_finished(order_id, user_id, "cancelled")
        assert order is not None
        if order.user_id != user_id:
            raise NotOrderOwner(f"order {order_id} belongs to another user")
        del self._pending[order_id]
        del self._pending_by_user[user_id][order_id]
        self._books[order.asset].remove(PENDING, order_id)
        self._reserved -= order.margin
        self._totals.reserve(user_id, -order.margin)
        balance = self._balances[user_id] + order.margin
        self._balances[user_id] = balance
        self._closed[order_id] = ClosedOrder(user_id, "cancelled")
        return [
            Reply(command.request_id, Cancelled(order, balance)),
            OrderCancelled(order, command.ts),
        ]

    def _user_balance(self, command: GetUserBalance | GetUsdcBalance) -> list[Event]:
        return [Reply(command.request_id, Balance(self._wallet(command.user_id)))]

    def _open_trades(self, command: GetOpenTrades) -> list[Event]:
        positions, quotes = self._positions, self._quotes
        items = tuple(
            OpenPosition(positions[order_id], quotes.get(positions[order_id].asset))
            for order_id in self._open_by_user.get(command.user_id, ())
        )
        return [Reply(command.request_id, OpenPositions(items))]

    def _pending_orders(self, command: GetPendingOrders) -> list[Event]:
        pending = self._pending
        orders = tuple(pending[oid] for oid in self._pending_by_user.get(command.user_id, ()))
        return [Reply(command.request_id, PendingOrders(orders))]

    def _account(self, command: GetAccount) -> list[Event]:
        return [Reply(command.request_id, self.account(command.user_id))]

    # ---- what ticks fire ---------------------------------------------------------------------

    def _fill(self, order_id: str, quote: Quote) -> TradeOpened:
        """A pending order whose trigger the tick crossed becomes a position at the tick's ask
        (long) or bid (short); its reserved margin becomes the position's."""
        order = self._pending.pop(order_id)
        del self._pending_by_user[order.user_id][order_id]
        self._reserved -= order.margin
        self._totals.reserve(order.user_id, -order.margin)
        price = quote.ask if order.side == LONG else quote.bid
        position = Position(
            order_id,
            order.user_id,
            order.asset,
            order.side,
            order.margin,
            order.leverage,
            price,
            liquidation_trigger(order.side, price, order.leverage),
            quote.ts,
            order.stop_loss,
            order.take_profit,
        )
        self._add_position(position)
        return TradeOpened(position, filled=True)

    def _exit(self, kind: int, position: Position, quote: Quote) -> TradeClosed:
        """A position whose liquidation price, stop loss or take profit the tick crossed closes
        at the tick's bid (long) or ask (short); past the liquidation price it is liquidated."""
        price = quote.bid if position.side == LONG else quote.ask
        reason: CloseReason
        if position.is_liquidated_at(price):
            reason = "liquidation"
        elif kind == STOP_LOSS:
            reason = "sl"
        else:
            reason = "tp"
        return self._settle(position, position.margin, price, reason, quote.ts)

    # ---- helpers -----------------------------------------------------------------------------

    def _add_position(self, position: Position) -> None:
        order_id = position.order_id
        self._positions[order_id] = position
        self._open_by_user[position.user_id][order_id] = None
        self._used += position.margin
        self._totals.opened(position)
        long = position.side == LONG
        if not long or position.liquidation_price > 0:  # a 1x long is never liquidated
            direction = BID_FALLS if long else ASK_RISES
            self._books[position.asset].add(
                direction, LIQUIDATION, position.liquidation_price, order_id
            )
        if position.stop_loss is not None or position.take_profit is not None:
            self._watch_protection(position)

    def _watch_protection(self, position: Position) -> None:
        """(Re)place the position's stop loss and take profit entries in its asset's book."""
        book, order_id, long = self._books[position.asset], position.order_id, position.side == LONG
        if position.stop_loss is None:
            book.remove(STOP_LOSS, order_id)
        else:
            book.replace(BID_FALLS if long else ASK_RISES, STOP_LOSS, position.stop_loss, order_id)
        if position.take_profit is None:
            book.remove(TAKE_PROFIT, order_id)
        else:
            direction = BID_RISES if long else ASK_FALLS
            book.replace(direction, TAKE_PROFIT, position.take_profit, order_id)

    def _settle(
        self, position: Position, part: int, price: int, reason: CloseReason, at: int
    ) -> TradeClosed:
        """Close `part` cents of `position` at `price`: the wallet gets max(0, part + pnl) (0
        for a liquidation); what is left stays open with the same terms."""
        order_id, user_id = position.order_id, position.user_id
        if reason == "liquidation":
            realized = -part
            self.ledger.liquidated_margin += part
        else:
            returned = max(
                0, part + pnl(position.side, part, position.leverage, position.open_price, price)
            )
            realized = returned - part
            self.ledger.realized_pnl += realized
            self._balances[user_id] += returned
        self._used -= part
        if part < position.margin:
            remaining = self._positions[order_id] = position.with_margin(position.margin - part)
            self._totals.closed(position, remaining)
        else:
            self._totals.closed(position, None)
            del self._positions[order_id]
            del self._open_by_user[user_id][order_id]
            book = self._books[position.asset]
            book.remove(LIQUIDATION, order_id)
            if position.stop_loss is not None:
                book.remove(STOP_LOSS, order_id)
            if position.take_profit is not None:
                book.remove(TAKE_PROFIT, order_id)
            outcome: Outcome = "liquidated" if reason == "liquidation" else "closed"
            self._closed[order_id] = ClosedOrder(user_id, outcome)
        return TradeClosed(position, part, price, realized, reason, at)

    def _owned_position(self, order_id: str, user_id: str) -> Position:
        position = self._positions.get(order_id)
        if position is None:
            pending = self._pending.get(order_id)
            if pending is not None:
                if pending.user_id != user_id:
                    raise NotOrderOwner(f"order {order_id} belongs to another user")
                raise OrderIsPending(f"order {order_id} has not filled yet; cancel it instead")
            self._raise_finished(order_id, user_id, "closed")
        assert position is not None
        if position.user_id != user_id:
            raise NotOrderOwner(f"order {order_id} belongs to another user")
        return position

    def _raise_finished(self, order_id: str, user_id: str, verb: str) -> None:
        """Why an order that is neither open nor pending cannot be `verb`: it never existed,
        it is another trader's, or it is finished."""
        finished = self._closed.get(order_id)
        if finished is None:
            raise UnknownOrder(f"no order {order_id}")
        if finished.owner != user_id:
            raise NotOrderOwner(f"order {order_id} belongs to another user")
        if verb == "cancelled" and finished.outcome != "cancelled":
            raise OrderNotPending(f"order {order_id} was already {finished.outcome}")
        raise OrderAlreadyClosed(f"order {order_id} was already {finished.outcome}")

    def _wallet(self, user_id: str) -> int:
        balance = self._balances.get(user_id)
        if balance is None:
            raise _no_wallet(user_id)
        return balance

    def _fresh_quote(self, asset: str, now: int) -> Quote:
        quote = self._quotes.get(asset)
        if quote is None:
            raise PriceUnavailable(f"no price for {asset} has been received yet")
        age = now - quote.ts
        if age > self.config.price_max_age_us:
            raise StalePrice(f"the newest {asset} price is {age / 1e6:.1f} s old")
        return quote

    def _evict(self, recent: OrderedDict[str, tuple[Reply, int]], now: int) -> None:
        """Forget the oldest of `recent`'s answers beyond `dedupe_count` that are kept until
        before `now`, and any beyond `dedupe_max`. Checked whenever their number reaches a
        multiple of `dedupe_step`, not on every command: an answer may be kept a little longer
        than promised, never less (one kept longer holds back those behind it); and since the
        check depends on nothing but the answers kept, an engine restored from a snapshot
        forgets exactly what the original would have."""
        config = self.config
        count = len(recent)
        while count > config.dedupe_max or (
            count > config.dedupe_count and next(iter(recent.values()))[1] < now
        ):
            recent.popitem(last=False)
            count -= 1

    # ---- state ---------------------------------------------------------------------------------

    def state(self) -> EngineState:
        """The whole state (copies of the containers; orders and replies are immutable)."""
        return EngineState(
            balances=dict(self._balances),
            positions=list(self._positions.values()),
            pending=list(self._pending.values()),
            closed=dict(self._closed),
            quotes={asset: replace(quote) for asset, quote in self._quotes.items()},
            recent_replies=[
                RecentReply(reply, until)
                for recent in (self._recent_once, self._recent)
                for reply, until in recent.values()
            ],
            ledger=replace(self.ledger),
        )

    @classmethod
    def from_state(cls, state: EngineState, config: EngineConfig | None = None) -> Engine:
        engine = cls(config)
        engine._balances.update(state.balances)
        for user_id in engine._balances:
            engine._open_by_user[user_id] = {}
            engine._pending_by_user[user_id] = {}
        entries: dict[str, list[tuple[int, int, int, str]]] = {symbol: [] for symbol in ASSETS}
        for position in state.positions:
            order_id, long = position.order_id, position.side == LONG
            engine._positions[order_id] = position
            engine._open_by_user[position.user_id][order_id] = None
            engine._used += position.margin
            engine._totals.opened(position)
            mine = entries[position.asset]
            if not long or position.liquidation_price > 0:
                mine.append(
                    (
                        BID_FALLS if long else ASK_RISES,
                        LIQUIDATION,
                        position.liquidation_price,
                        order_id,
                    )
                )
            if position.stop_loss is not None:
                mine.append(
                    (BID_FALLS if long else ASK_RISES, STOP_LOSS, position.stop_loss, order_id)
                )
            if position.take_profit is not None:
                mine.append(
                    (BID_RISES if long else ASK_FALLS, TAKE_PROFIT, position.take_profit, order_id)
                )
        for order in state.pending:
            engine._pending[order.order_id] = order
            engine._pending_by_user[order.user_id][order.order_id] = None
            engine._reserved += order.margin
            engine._totals.reserve(order.user_id, order.margin)
            entries[order.asset].append(
                (_fill_direction(order), PENDING, order.trigger_price, order.order_id)
            )
        for asset, mine in entries.items():
            engine._books[asset].add_many(mine)
        engine._closed.update(state.closed)
        engine._quotes.update({asset: replace(q) for asset, q in state.quotes.items()})
        prefix = engine.config.resent_prefix
        for reply, until in state.recent_replies:
            request_id = reply.request_id
            recent = engine._recent if request_id.startswith(prefix) else engine._recent_once
            recent[request_id] = (reply, until)
        engine.ledger = replace(state.ledger)
        return engine


def _no_wallet(user_id: str) -> WalletNotFound:
    return WalletNotFound(f"user {user_id} has no wallet; initialize it first")


def _fill_direction(order: PendingOrder) -> int:
    """Which way the quote must move to fill it: a long limit waits for the ask to fall to its
    trigger, a long stop for it to rise; a short limit for the bid to rise, a short stop for it
    to fall."""
    if order.side == LONG:
        return ASK_FALLS if order.order_type == LIMIT else ASK_RISES
    return BID_RISES if order.order_type == LIMIT else BID_FALLS


def _validate_trade(command: CreateTrade) -> None:
    # `type(x) is int`, not isinstance: bool is an int subclass and is not an amount. Inline
    # rather than a helper call, because this runs for every order.
    if command.asset not in ASSETS:
        raise InvalidCommand(
            f"unknown asset {command.asset!r}; expected one of {', '.join(ASSETS)}"
        )
    if command.side not in SIDES:
        raise InvalidCommand(f"unknown type {command.side!r}; expected 'long' or 'short'")
    margin, leverage, slippage, quote = (
        command.margin,
        command.leverage,
        command.slippage_bps,
        command.quote,
    )
    if type(margin) is not int or margin <= 0:
        raise InvalidCommand("margin must be a positive integer number of cents")
    if type(leverage) is not int or not 1 <= leverage <= MAX_LEVERAGE:
        raise InvalidCommand(f"leverage must be an integer from 1 to {MAX_LEVERAGE}")
    if type(slippage) is not int or not 0 <= slippage <= MAX_SLIPPAGE_BPS:
        raise InvalidCommand(f"slippage must be an integer from 0 to {MAX_SLIPPAGE_BPS} bps")
    if quote is not None and (type(quote) is not int or quote <= 0):
        raise InvalidCommand("a quoted price must be a positive integer in the asset's units")
    order_type, trigger = command.order_type, command.trigger_price
    if order_type not in ORDER_TYPES:
        raise InvalidCommand(f"orderType {order_type!r} must be 'market', 'limit' or 'stop'")
    if order_type == MARKET:
        if trigger is not None:
            raise InvalidCommand("triggerPrice is for limit and stop orders only")
    elif type(trigger) is not int or trigger <= 0:
        raise InvalidCommand(
            f"a {order_type} order needs triggerPrice, a positive integer in the asset's units"
        )
    stop_loss, take_profit = command.stop_loss, command.take_profit
    if stop_loss is not None and (type(stop_loss) is not int or stop_loss <= 0):
        raise InvalidCommand("stopLoss must be a positive integer in the asset's units")
    if take_profit is not None and (type(take_profit) is not int or take_profit <= 0):
        raise InvalidCommand("takeProfit must be a positive integer in the asset's units")

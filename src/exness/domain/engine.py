"""The trading engine core: the single writer of balances, positions and latest prices.

`Engine.apply(command)` and `Engine.on_price(tick)` return the events they cause; nothing
else changes the state. There are no clock reads, no random ids and no I/O here: order
ids and times come in the input, so replaying the same inputs rebuilds the same state,
and `to_snapshot()` / `from_snapshot()` round-trip it exactly.

Conventions the adapters rely on:
- `apply()` returns the command's `Reply` first, then any DB operations.
- A rejection changes nothing: every handler checks everything before it mutates.
- A state-changing command redelivered with the same request id is not applied again; the
  first reply is returned again (within the last `dedupe_window` state-changing requests).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from exness.domain.assets import ASSETS
from exness.domain.errors import (
    DuplicateOrder,
    InsufficientBalance,
    InvalidCommand,
    NotOrderOwner,
    OrderAlreadyClosed,
    PriceUnavailable,
    Rejection,
    SlippageExceeded,
    StalePrice,
    UnknownOrder,
    WalletNotFound,
)
from exness.domain.liquidation import LiquidationBook
from exness.domain.messages import (
    Balance,
    CloseTrade,
    Command,
    CreateTrade,
    Event,
    GetOpenTrades,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    OpenPosition,
    OpenPositions,
    PositionClosed,
    PositionOpened,
    PriceTick,
    Quote,
    Reply,
    TradeClosed,
    TradeLiquidated,
    TradeOpened,
    UserCreated,
    WalletOpened,
)
from exness.domain.positions import SIDES, Position, liquidation_trigger
from exness.domain.state import ClosedOrder, EngineState, Ledger

__all__ = ["MAX_LEVERAGE", "Engine", "EngineConfig", "Ledger"]

MAX_LEVERAGE = 100
MAX_SLIPPAGE_BPS = 10_000


@dataclass(frozen=True, slots=True)
class EngineConfig:
    price_max_age_us: int = 10_000_000
    initial_balance: int = 500_000  # USD 5,000.00
    dedupe_window: int = 10_000


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._balances: dict[str, int] = {}
        self._positions: dict[str, Position] = {}
        self._open_by_user: dict[str, dict[str, None]] = {}  # insertion-ordered sets
        self._closed: dict[str, ClosedOrder] = {}
        self._books: dict[str, LiquidationBook] = {symbol: LiquidationBook() for symbol in ASSETS}
        self._quotes: dict[str, Quote] = {}
        # request id -> reply, oldest first. An OrderedDict, because evicting the oldest key of
        # a plain dict (`next(iter(d))`) gets slower with every deletion until the next resize.
        self._recent: OrderedDict[str, Reply] = OrderedDict()
        self.ledger = Ledger()
        # command type -> (handler, whether it changes state and so is applied at most once)
        self._handlers: dict[type[Any], tuple[Callable[[Any], list[Event]], bool]] = {
            InitializeWallet: (self._initialize_wallet, True),
            CreateTrade: (self._create_trade, True),
            CloseTrade: (self._close_trade, True),
            GetUserBalance: (self._user_balance, False),
            GetUsdcBalance: (self._user_balance, False),
            GetOpenTrades: (self._open_trades, False),
        }

    # ---- inputs ------------------------------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Apply one command; the first event is always its `Reply`."""
        handler, changes_state = self._handlers[type(command)]
        recent = self._recent
        if changes_state:
            seen = recent.get(command.request_id)
            if seen is not None:
                return [seen]
        try:
            events = handler(command)
        except Rejection as rejection:
            events = [Reply.rejected(command.request_id, rejection.code, rejection.message)]
        if changes_state:
            reply = events[0]
            assert isinstance(reply, Reply)  # every handler answers first
            recent[command.request_id] = reply
            if len(recent) > self.config.dedupe_window:
                recent.popitem(last=False)
        return events

    def on_price(self, tick: PriceTick) -> list[Event]:
        """Take a price; liquidate every position it crosses, at the tick's price.

        A tick older (by feed time) than the asset's newest quote is out of order and ignored:
        it must neither replace a newer price nor liquidate positions opened after it.
        """
        asset, price = tick.asset, tick.price
        if asset not in ASSETS:
            raise InvalidCommand(f"unknown asset {asset!r}")
        if type(price) is not int or price <= 0 or type(tick.ts) is not int:
            raise InvalidCommand("a price must be a positive integer with an integer time")
        current = self._quotes.get(asset)
        if current is not None and tick.ts < current.ts:
            return []
        self._quotes[asset] = Quote(price, tick.ts, tick.bid, tick.ask)
        crossed = self._books[asset].pop_crossed(price)
        if not crossed:
            return []
        events: list[Event] = []
        for order_id in crossed:
            position = self._positions.pop(order_id)
            del self._open_by_user[position.user_id][order_id]
            self._closed[order_id] = ClosedOrder(position.user_id, True)
            self.ledger.liquidated_margin += position.margin
            events.append(TradeLiquidated(position, price, -position.margin, tick.ts))
        return events

    # ---- views -------------------------------------------------------------------------------

    def balance(self, user_id: str) -> int | None:
        return self._balances.get(user_id)

    def position(self, order_id: str) -> Position | None:
        return self._positions.get(order_id)

    def quote(self, asset: str) -> Quote | None:
        return self._quotes.get(asset)

    @property
    def open_positions(self) -> int:
        """How many positions are open (all traders)."""
        return len(self._positions)

    def positions(self) -> Iterator[Position]:
        """Every open position, oldest first. Positions are never mutated."""
        return iter(self._positions.values())

    def closed_orders(self) -> Mapping[str, ClosedOrder]:
        """Every order that was open once and is not any more, by order id (read-only)."""
        return self._closed

    def balances(self) -> Mapping[str, int]:
        """Each trader's free balance in cents (read-only)."""
        return self._balances

    def total_value(self) -> int:
        """Cents held by the platform for traders: wallets plus open margins."""
        return sum(self._balances.values()) + sum(p.margin for p in self._positions.values())

    def check_invariant(self) -> None:
        """SPEC §3: wallets + open margins = deposits + realized PnL − margins lost."""
        held, expected = self.total_value(), self.ledger.expected_value()
        if held != expected:
            raise AssertionError(f"money invariant broken: held {held} != expected {expected}")

    # ---- command handlers --------------------------------------------------------------------

    def _initialize_wallet(self, command: InitializeWallet) -> list[Event]:
        balance = self._balances.get(command.user_id)
        if balance is not None:
            return [Reply(command.request_id, WalletOpened(balance, created=False))]
        balance = self.config.initial_balance
        self._balances[command.user_id] = balance
        self._open_by_user[command.user_id] = {}
        self.ledger.deposits += balance
        return [
            Reply(command.request_id, WalletOpened(balance, created=True)),
            UserCreated(command.user_id, command.email, balance, command.ts),
        ]

    def _create_trade(self, command: CreateTrade) -> list[Event]:
        _validate_trade(command)
        balance = self._wallet(command.user_id)
        order_id = command.order_id
        if order_id in self._positions or order_id in self._closed:
            raise DuplicateOrder(f"order id {order_id} is already taken")
        price = self._fresh_quote(command.asset, command.ts).price
        quote = command.quote
        if quote is not None and abs(price - quote) * 10_000 > command.slippage_bps * quote:
            raise SlippageExceeded(
                f"price moved from {quote} to {price} (asset units), "
                f"more than the {command.slippage_bps} bps allowed"
            )
        if command.margin > balance:
            raise InsufficientBalance(
                f"margin {command.margin} exceeds the balance {balance} (cents)"
            )
        position = Position(
            order_id,
            command.user_id,
            command.asset,
            command.side,
            command.margin,
            command.leverage,
            price,
            liquidation_trigger(command.side, price, command.leverage),
            command.ts,
        )
        balance -= command.margin
        self._balances[command.user_id] = balance
        self._positions[order_id] = position
        self._open_by_user[command.user_id][order_id] = None
        self._books[command.asset].add(position)
        return [Reply(command.request_id, PositionOpened(position, balance)), TradeOpened(position)]

    def _close_trade(self, command: CloseTrade) -> list[Event]:
        position = self._positions.get(command.order_id)
        if position is None:
            closed = self._closed.get(command.order_id)
            if closed is None:
                raise UnknownOrder(f"no order {command.order_id}")
            if closed.owner != command.user_id:
                raise NotOrderOwner(f"order {command.order_id} belongs to another user")
            how = "liquidated" if closed.liquidated else "closed"
            raise OrderAlreadyClosed(f"order {command.order_id} was already {how}")
        if position.user_id != command.user_id:
            raise NotOrderOwner(f"order {command.order_id} belongs to another user")
        price = self._fresh_quote(position.asset, command.ts).price
        returned = max(0, position.margin + position.pnl_at(price))
        pnl = returned - position.margin
        self._remove_open(position)
        balance = self._balances[position.user_id] + returned
        self._balances[position.user_id] = balance
        self._closed[position.order_id] = ClosedOrder(position.user_id, False)
        self.ledger.realized_pnl += pnl
        return [
            Reply(command.request_id, PositionClosed(position, price, pnl, command.ts, balance)),
            TradeClosed(position, price, pnl, command.ts),
        ]

    def _user_balance(self, command: GetUserBalance | GetUsdcBalance) -> list[Event]:
        return [Reply(command.request_id, Balance(self._wallet(command.user_id)))]

    def _open_trades(self, command: GetOpenTrades) -> list[Event]:
        positions, quotes = self._positions, self._quotes
        return [
            Reply(
                command.request_id,
                OpenPositions(
                    tuple(
                        OpenPosition(positions[order_id], quotes.get(positions[order_id].asset))
                        for order_id in self._open_by_user.get(command.user_id, ())
                    )
                ),
            )
        ]

    # ---- helpers -----------------------------------------------------------------------------

    def _wallet(self, user_id: str) -> int:
        balance = self._balances.get(user_id)
        if balance is None:
            raise WalletNotFound(f"user {user_id} has no wallet; initialize it first")
        return balance

    def _fresh_quote(self, asset: str, now: int) -> Quote:
        quote = self._quotes.get(asset)
        if quote is None:
            raise PriceUnavailable(f"no price for {asset} has been received yet")
        age = now - quote.ts
        if age > self.config.price_max_age_us:
            raise StalePrice(f"the newest {asset} price is {age / 1e6:.1f} s old")
        return quote

    def _remove_open(self, position: Position) -> None:
        del self._positions[position.order_id]
        del self._open_by_user[position.user_id][position.order_id]
        self._books[position.asset].discard(position)

    # ---- state ---------------------------------------------------------------------------------

    def state(self) -> EngineState:
        """The whole state (copies of the containers; positions and replies are immutable)."""
        return EngineState(
            balances=dict(self._balances),
            positions=list(self._positions.values()),
            closed=dict(self._closed),
            quotes={asset: Quote(q.price, q.ts, q.bid, q.ask) for asset, q in self._quotes.items()},
            recent_replies=list(self._recent.values()),
            ledger=Ledger(
                self.ledger.deposits, self.ledger.realized_pnl, self.ledger.liquidated_margin
            ),
        )

    @classmethod
    def from_state(cls, state: EngineState, config: EngineConfig | None = None) -> Engine:
        engine = cls(config)
        engine._balances.update(state.balances)
        for user_id in engine._balances:
            engine._open_by_user[user_id] = {}
        by_asset: dict[str, list[Position]] = {symbol: [] for symbol in ASSETS}
        for position in state.positions:
            engine._positions[position.order_id] = position
            engine._open_by_user[position.user_id][position.order_id] = None
            by_asset[position.asset].append(position)
        for asset, positions in by_asset.items():
            engine._books[asset].add_many(positions)
        engine._closed.update(state.closed)
        engine._quotes.update(state.quotes)
        for reply in state.recent_replies:
            engine._recent[reply.request_id] = reply
        engine.ledger = Ledger(
            state.ledger.deposits, state.ledger.realized_pnl, state.ledger.liquidated_margin
        )
        return engine


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

"""The JSON of the live updates (codec/events.py): exact decimals, the trade record, the
account, the splices that number a message, the pub/sub payload."""

from __future__ import annotations

import json
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exness.codec import CodecError
from exness.codec.events import (
    account_event,
    candle_message,
    decimal_text,
    decode_live_batch,
    encode_live_batch,
    order_event,
    order_owner,
    quote_message,
    trader_seq,
    with_seq,
)
from exness.domain.account import Account
from exness.domain.candles import EPOCH
from exness.domain.messages import (
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position
from exness.domain.quotes import Quote

T0 = 1_700_000_000_000_000  # µs
POSITION = Position("o1", "alice", "SOL", "long", 2_500, 10, 150_000_000, 135_000_000, T0)
PENDING = PendingOrder("p1", "alice", "BTC", "short", "limit", 610_000_000, 1_000, 5, T0, None, 55)


def exact(body: bytes | str) -> dict:
    return json.loads(body, parse_float=Decimal)


@given(st.integers(-(10**20), 10**20), st.integers(0, 10))
def test_decimal_text_is_what_decimal_writes(units: int, places: int):
    assert decimal_text(units, places) == format(Decimal(units).scaleb(-places), "f")


def test_an_opened_position_is_the_trade_record_in_human_units():
    body = exact(order_event(TradeOpened(POSITION)))
    assert body == {
        "channel": "account",
        "type": "order",
        "event": "opened",
        "orderId": "o1",
        "asset": "SOL",
        "tradeType": "long",
        "status": "open",
        "margin": Decimal("25.00"),
        "leverage": 10,
        "openPrice": Decimal("150.000000"),
        "liquidationPrice": Decimal("135.000000"),
        "stopLoss": None,
        "takeProfit": None,
        "createdAt": "2023-11-14T22:13:20Z",
    }
    assert exact(order_event(TradeOpened(POSITION, filled=True)))["event"] == "filled"


def test_pending_orders_placed_modified_and_cancelled():
    placed = exact(order_event(OrderPlaced(PENDING)))
    assert placed["event"] == "placed" and placed["status"] == "pending"
    assert placed["orderType"] == "limit" and placed["triggerPrice"] == Decimal("61000.0000")
    assert placed["takeProfit"] == Decimal("0.0055")
    cancelled = exact(order_event(OrderCancelled(PENDING, T0 + 1)))
    assert cancelled["event"] == "cancelled" and cancelled["status"] == "cancelled"
    assert cancelled["cancelledAt"] == "2023-11-14T22:13:20.000001Z"
    moved = exact(order_event(OrderModified(POSITION.with_protection(140_000_000, None), T0)))
    assert moved["event"] == "modified" and moved["stopLoss"] == Decimal("140.000000")
    assert moved["status"] == "open" and "modifiedAt" in moved


@pytest.mark.parametrize(
    ("part", "reason", "status"),
    [(2_500, "tp", "closed"), (1_000, "manual", "open"), (2_500, "liquidation", "closed")],
)
def test_a_close_carries_its_reason_margin_price_and_pnl(part, reason, status):
    close = TradeClosed(POSITION, part, 160_000_000, -1_250, reason, T0 + 5_000_000)
    body = exact(order_event(close))
    assert body["event"] == "closed" and body["reason"] == reason == body["closeReason"]
    assert body["status"] == status
    assert body["closedMargin"] == Decimal(part).scaleb(-2)
    assert body["remainingMargin"] == Decimal(2_500 - part).scaleb(-2)
    assert body["closePrice"] == Decimal("160.000000") and body["pnl"] == Decimal("-12.50")
    assert body["liquidated"] is (reason == "liquidation")
    assert body["closedAt"] == "2023-11-14T22:13:25Z"


def test_a_wallet_opening_is_no_order_event_but_concerns_its_trader():
    created = UserCreated("bob", None, 500_000, T0)
    assert order_event(created) is None
    assert order_owner(created) == "bob"
    assert {order_owner(e) for e in (OrderPlaced(PENDING), TradeOpened(POSITION))} == {"alice"}


def test_the_account_is_the_section_7_6_body():
    body = exact(account_event(Account(1_000, 200, 2_500, -125, 1, 1)))
    assert body == {
        "channel": "account",
        "type": "account",
        "balance": 1_000,
        "reserved": 200,
        "usedMargin": 2_500,
        "unrealizedPnl": -125,
        "equity": 3_575,
        "marginLevel": Decimal("143.00"),
        "openPositions": 1,
        "pendingOrders": 1,
    }
    assert exact(account_event(Account(5, 0, 0, 0, 0, 0)))["marginLevel"] is None


def test_quotes_and_candles_in_human_units():
    quote = exact(quote_message("BTC", Quote(600_000_000, T0, 599_990_000, 600_010_000)))
    assert quote == {
        "channel": "quotes",
        "asset": "BTC",
        "bid": Decimal("59999.0000"),
        "ask": Decimal("60001.0000"),
        "price": Decimal("60000.0000"),
        "ts": T0,
    }
    start = EPOCH.replace(year=2024)
    candle = json.loads(
        candle_message("candles:SOL:1h", "SOL", start, start.replace(hour=1), 1, 9, 1, 5, 12)
    )
    assert candle == {
        "channel": "candles:SOL:1h",
        "start": "2024-01-01 00:00:00",
        "end": "2024-01-01 01:00:00",
        "open": "0.000001",
        "high": "0.000009",
        "low": "0.000001",
        "close": "0.000005",
        "volume": "0",
        "quoteVolume": "0",
        "trades": "12",
    }


def test_numbering_is_a_splice_and_reads_back():
    body = order_event(TradeOpened(POSITION)).decode()
    numbered = '{"traderSeq":42,' + body[1:]  # what the engine's script writes
    assert trader_seq(numbered) == 42
    framed = with_seq(numbered, 7)
    assert orjson.loads(framed) == {"seq": 7, "traderSeq": 42, **orjson.loads(body)}
    with pytest.raises(CodecError):
        trader_seq(body)
    with pytest.raises(CodecError):
        trader_seq('{"traderSeq":x,"a":1}')


def test_the_pubsub_payload_round_trips_in_order():
    events = [("alice", '{"traderSeq":1,"a":1}'), ("bob", '{"traderSeq":1}'), ("alice", "{}")]
    assert decode_live_batch(encode_live_batch(events)) == events
    with pytest.raises(CodecError):
        decode_live_batch(b"alice")

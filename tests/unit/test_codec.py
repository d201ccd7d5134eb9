"""The JSON of Redis entries: commands, replies, price entries, DB operations, snapshots."""

from __future__ import annotations

import orjson
import pytest

from exness.adapters import keys
from exness.codec import CodecError
from exness.codec.commands import (
    COMMANDS,
    BadCommand,
    Envelope,
    decode_command,
    encode_command,
    queue_of,
)
from exness.codec.operations import decode_operation, encode_operation
from exness.codec.prices import (
    decode_price_entry,
    decode_price_key,
    encode_price_key,
    encode_price_updates,
)
from exness.codec.replies import RESULTS, decode_reply, encode_reply, reply_body
from exness.codec.snapshot import (
    SnapshotEntry,
    decode_snapshot,
    decode_state,
    encode_snapshot,
    encode_state,
)
from exness.codec.stream_ids import stream_id_key, stream_id_us
from exness.domain import (
    CloseTrade,
    CreateTrade,
    InitializeWallet,
    Position,
    PriceTick,
    Reply,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.engine import DEDUPE_WINDOW_US
from exness.domain.messages import (
    Account,
    Balance,
    Cancelled,
    CancelOrder,
    GetAccount,
    GetOpenTrades,
    GetPendingOrders,
    GetUsdcBalance,
    GetUserBalance,
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
    Quote,
    WalletOpened,
)
from exness.domain.orders import PendingOrder
from exness.domain.state import ClosedOrder, EngineState, Ledger, RecentReply

TS = 1_700_000_000_000_000


def command(kind: str, **fields) -> bytes:
    body = {"v": 1, "type": kind, "requestId": "r1", "userId": "u1", "replyTo": "engine_replies:s"}
    body.update(fields)
    return orjson.dumps(body)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            command(
                "CREATE_TRADE",
                data={
                    "orderId": "o1",
                    "asset": "SOL",
                    "type": "long",
                    "margin": 1000,
                    "leverage": 10,
                    "slippage": 50,
                    "price": 201_470_000,
                },
            ),
            CreateTrade("r1", "u1", "o1", "SOL", "long", 1000, 10, 50, 201_470_000, ts=TS),
        ),
        (
            command(
                "CREATE_TRADE",
                data={"orderId": "o1", "asset": "BTC", "type": "short", "margin": 5, "leverage": 1},
            ),
            CreateTrade("r1", "u1", "o1", "BTC", "short", 5, 1, 100, None, ts=TS),
        ),
        (command("CLOSE_TRADE", data={"orderId": "o1"}), CloseTrade("r1", "u1", "o1", ts=TS)),
        (
            command("INITIALIZE_WALLET", data={"email": "a@b.c"}),
            InitializeWallet("r1", "u1", "a@b.c", ts=TS),
        ),
        (command("INITIALIZE_WALLET"), InitializeWallet("r1", "u1", None, ts=TS)),
        (command("GET_USER_BALANCE"), GetUserBalance("r1", "u1", ts=TS)),
        (command("GET_USDC_BALANCE"), GetUsdcBalance("r1", "u1", ts=TS)),
        (command("GET_OPEN_TRADES"), GetOpenTrades("r1", "u1", ts=TS)),
    ],
)
def test_commands_decode_with_the_engine_time(raw, expected):
    decoded = decode_command(raw, TS)
    assert decoded == Envelope(expected, "engine_replies:s")


def test_a_producer_time_is_ignored():
    raw = command("GET_USDC_BALANCE", ts=1)
    assert decode_command(raw, TS).command.ts == TS


@pytest.mark.parametrize(
    ("raw", "answerable", "mentions"),
    [
        (b"not json", False, "JSON"),
        (b"[1,2]", False, "object"),
        (orjson.dumps({"type": "GET_USDC_BALANCE", "userId": "u"}), False, "requestId"),
        (command("SELL_EVERYTHING"), True, "unknown command type"),
        (
            command("CREATE_TRADE", data={"orderId": "o", "asset": "SOL", "type": "up"}),
            True,
            "type",
        ),
        (
            command(
                "CREATE_TRADE",
                data={
                    "orderId": "o",
                    "asset": "SOL",
                    "type": "long",
                    "margin": 10.5,
                    "leverage": 2,
                },
            ),
            True,
            "margin",
        ),
        (
            command(
                "CREATE_TRADE",
                data={
                    "orderId": "o",
                    "asset": "SOL",
                    "type": "long",
                    "margin": "10",
                    "leverage": 2,
                },
            ),
            True,
            "margin",
        ),
        (command("CLOSE_TRADE", data={}), True, "orderId"),
        (command("CLOSE_TRADE", data=[1]), True, "data"),
        (command("INITIALIZE_WALLET", userId=""), True, "userId"),
    ],
)
def test_bad_commands_are_reported_and_answered_when_possible(raw, answerable, mentions):
    decoded = decode_command(raw, TS)
    assert isinstance(decoded, BadCommand)
    assert mentions in decoded.message
    reply = decoded.reply()
    assert (reply is not None) == answerable
    if reply:
        assert reply.code == "INVALID_COMMAND" and not reply.ok


POSITION = Position("o1", "u1", "ETH", "short", 777, 9, 3_000_000_000, 3_333_333_334, TS)
PROTECTED = Position(
    "o2", "u1", "SOL", "long", 100, 10, 150_000_000, 135_000_000, TS, 140_000_000, None
)
PENDING = PendingOrder(
    "o3", "u1", "BTC", "short", "stop", 590_000_000, 1000, 5, TS, 600_000_000, 500_000_000
)
# a stop loss that gapped: 60 of the 100 cents closed below it
CLOSE_OF_PROTECTED = TradeClosed(PROTECTED, 60, 138_000_000, -48, "sl", TS + 2)

EVERY_COMMAND = [
    CreateTrade("r1", "u1", "o1", "SOL", "long", 1000, 10, 50, 201_470_000, ts=TS),
    CreateTrade("r2", "u1", "o2", "BTC", "short", 5, 1, 100, None, ts=TS),
    CloseTrade("r3", "u1", "o1", ts=TS),
    InitializeWallet("r4", "u1", "a@b.c", ts=TS),
    InitializeWallet("r5", "u1", ts=TS),
    GetUserBalance("r6", "u1", ts=TS),
    GetUsdcBalance("r7", "u1", ts=TS),
    GetOpenTrades("r8", "u1", ts=TS),
    GetPendingOrders("r9", "u1", ts=TS),
    GetAccount("r10", "u1", ts=TS, deadline=TS + 5),
    CreateTrade(
        "r11",
        "u1",
        "o3",
        "BTC",
        "short",
        1000,
        5,
        0,
        None,
        "stop",
        590_000_000,
        600_000_000,
        500_000_000,
        ts=TS,
        deadline=TS + 1,
    ),
    CloseTrade("r12", "u1", "o1", 250, ts=TS),
    ModifyTrade("r13", "u1", "o1", 140_000_000, None, True, False, ts=TS),
    ModifyTrade("r14", "u1", "o1", None, None, True, True, ts=TS),  # clears both
    ModifyTrade("r15", "u1", "o1", None, 160_000_000, False, True, ts=TS),
    CancelOrder("r16", "u1", "o3", ts=TS),
]


@pytest.mark.parametrize("sent", EVERY_COMMAND)
def test_every_command_round_trips_through_the_table(sent):
    raw = encode_command(sent, "engine_replies:x")
    assert decode_command(raw, TS) == Envelope(sent, "engine_replies:x")


def test_the_table_covers_every_command_once_with_its_queue():
    assert {type(c) for c in EVERY_COMMAND} == {spec.cls for spec in COMMANDS}
    assert len({spec.name for spec in COMMANDS}) == len(COMMANDS)
    assert queue_of(EVERY_COMMAND[0]) == keys.TRADE_QUEUE
    assert queue_of(EVERY_COMMAND[2]) == keys.TRADE_QUEUE
    assert queue_of(EVERY_COMMAND[3]) == keys.WALLET_QUEUE
    assert queue_of(EVERY_COMMAND[7]) == keys.WALLET_QUEUE
    assert {queue_of(c) for c in EVERY_COMMAND[11:]} == {keys.TRADE_QUEUE}


def test_modify_tells_an_absent_level_from_a_null_one():
    keep_both = command("MODIFY_TRADE", data={"orderId": "o1"})
    clear_sl = command("MODIFY_TRADE", data={"orderId": "o1", "stopLoss": None})
    assert decode_command(keep_both, TS).command == ModifyTrade("r1", "u1", "o1", ts=TS)
    assert decode_command(clear_sl, TS).command == ModifyTrade(
        "r1", "u1", "o1", None, None, True, False, ts=TS
    )


QUOTE = Quote(3_001_000_000, TS, 3_000_000_000, 3_002_000_000)
EVERY_RESULT = [
    WalletOpened(500_000, created=True),
    Balance(499_000),
    PositionOpened(
        Position("o1", "u1", "ETH", "short", 777, 9, 3_000_000_000, 3_333_333_334, TS), 5
    ),
    PositionClosed(
        TradeClosed(
            Position("o1", "u1", "ETH", "short", 777, 9, 3_000_000_000, 3_333_333_334, TS),
            300,
            2_999_990_000,
            0,
            "manual",
            TS + 1,
        ),
        500_000,
    ),
    PendingPlaced(PENDING, 499_000),
    Cancelled(PENDING, 500_000),
    Modified(PENDING),
    Modified(PROTECTED),
    PendingOrders(()),
    PendingOrders((PENDING, PENDING)),
    Account(497_000, 1000, 2000, -2, 1, 1),
    OpenPositions(()),
    OpenPositions(
        (
            OpenPosition(Position("o1", "u1", "SOL", "long", 1, 1, 2, 0, TS), None),
            OpenPosition(Position("o2", "u1", "ETH", "long", 1, 1, 2, 0, TS), QUOTE),
        )
    ),
]


@pytest.mark.parametrize(
    "reply",
    [Reply(f"r{n}", result) for n, result in enumerate(EVERY_RESULT)]
    + [Reply.rejected("r9", "STALE_PRICE", "the newest SOL price is 12.0 s old")],
)
def test_replies_round_trip(reply):
    assert decode_reply(encode_reply(reply)) == reply


def test_every_kind_of_result_has_a_codec():
    assert {type(result) for result in EVERY_RESULT} == {codec.cls for codec in RESULTS}


def test_bad_reply_is_a_codec_error():
    with pytest.raises(CodecError):
        decode_reply(b'{"ok": true}')


# ---- prices --------------------------------------------------------------------------------


def test_price_entry_keeps_every_update_in_order_with_defaults():
    data = orjson.dumps(
        {
            "price_updates": [
                {"asset": "SOL", "price": 201_470_000, "decimals": 6, "ts": 5},
                {"asset": "SOL", "price": 20147, "decimals": 2},  # rescaled exactly
                {
                    "asset": "BTC",
                    "price": 600_000_000,
                    "decimals": 4,
                    "bid": 599_990_000,
                    "ask": 600_010_000,
                },
            ]
        }
    )
    ticks, problems = decode_price_entry("1700000000123-0", data)
    assert problems == []
    assert ticks == [
        PriceTick("SOL", 201_470_000, 5),
        PriceTick("SOL", 201_470_000, 1_700_000_000_123_000),
        PriceTick("BTC", 600_000_000, 1_700_000_000_123_000, 599_990_000, 600_010_000),
    ]


@pytest.mark.parametrize(
    ("update", "mentions"),
    [
        ({"asset": "DOGE", "price": 1}, "unknown asset"),
        ({"asset": "SOL", "price": 0}, "price"),
        ({"asset": "SOL", "price": 1.5}, "price"),
        ({"asset": "SOL", "price": "201"}, "price"),
        ({"asset": "SOL", "price": 1_234_567, "decimals": 7}, "decimals"),
        ({"asset": "SOL", "price": 10, "decimals": 40}, "decimals"),
        ({"asset": "SOL", "price": 10, "bid": 11, "ask": 9}, "bid is above ask"),
        ({"asset": "SOL", "price": 10, "ts": -1}, "ts"),
        ("not an object", "object"),
    ],
)
def test_bad_updates_are_skipped_and_the_rest_kept(update, mentions):
    data = orjson.dumps({"price_updates": [update, {"asset": "ETH", "price": 3}]})
    ticks, problems = decode_price_entry("1-0", data)
    assert ticks == [PriceTick("ETH", 3, 1000)]
    assert len(problems) == 1 and mentions in problems[0]


@pytest.mark.parametrize("data", [b"nope", b"{}", b'{"price_updates": 3}'])
def test_unusable_price_entries_are_codec_errors(data):
    with pytest.raises(CodecError):
        decode_price_entry("1-0", data)


def test_price_updates_and_keys_round_trip():
    ticks = [PriceTick("SOL", 150_000_000, 7, 149_990_000, 150_010_000), PriceTick("BTC", 1, 8)]
    assert decode_price_entry("9-0", encode_price_updates(ticks))[0] == ticks
    quote = Quote(150_000_000, 7, 149_990_000, 150_010_000)
    assert decode_price_key(encode_price_key("SOL", quote)) == quote
    assert stream_id_us(b"12-3") == 12_000
    assert stream_id_key("10-0") > stream_id_key("9-5") and stream_id_key("7") == (7, 0)


# ---- DB operations and snapshots -------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        UserCreated("u1", "a@b.c", 500_000, TS),
        UserCreated("u2", None, 500_000, TS),
        TradeOpened(POSITION),
        TradeClosed(POSITION, 777, 2_999_990_000, 0, "manual", TS + 1),
        TradeClosed(POSITION, 300, 2_999_990_000, 0, "sl", TS + 1),
        TradeClosed(POSITION, 777, 3_400_000_000, -777, "liquidation", TS + 2),
        TradeOpened(PROTECTED, filled=True),
        OrderPlaced(PENDING),
        OrderCancelled(PENDING, TS + 3),
        OrderModified(PENDING, TS + 4),
        OrderModified(PROTECTED, TS + 5),
    ],
)
def test_db_operations_round_trip(operation):
    decoded = decode_operation(encode_operation(operation))
    assert decoded == operation and type(decoded) is type(operation)


@pytest.mark.parametrize("raw", [b"x", b'{"op": "trade_opened"}', b'{"op": "explode"}'])
def test_bad_db_operations_are_codec_errors(raw):
    with pytest.raises(CodecError):
        decode_operation(raw)


def test_snapshots_round_trip():
    entry = SnapshotEntry("12-0", TS, {"version": 2, "balances": {"u": 1}})
    assert decode_snapshot(encode_snapshot(entry)) == entry
    with pytest.raises(CodecError):
        decode_snapshot(b"{}")


def test_engine_state_round_trips_through_json():
    state = EngineState(
        balances={"u1": 499_223, "u2": 0},
        positions=[POSITION, PROTECTED],
        pending=[PENDING],
        closed={"o0": ClosedOrder("u2", "liquidated"), "o9": ClosedOrder("u1", "cancelled")},
        quotes={"ETH": QUOTE},
        recent_replies=[
            RecentReply(Reply("r1", PositionOpened(POSITION, 499_223)), TS),
            RecentReply(Reply.rejected("r2", "X", "y"), TS + 1),
            RecentReply(Reply("r3", PositionClosed(CLOSE_OF_PROTECTED, 499_100)), TS + 2),
            RecentReply(Reply("r4", PendingPlaced(PENDING, 498_000)), TS + 3),
        ],
        ledger=Ledger(1_000_000, 0, 500_000),
    )
    encoded = encode_state(state)
    kinds = [row[0] for row in encoded["recent_replies"]]
    assert kinds[0] == "o" and kinds[2] == "c"  # opens and closes as rows ...
    assert kinds[1] == reply_body(state.recent_replies[1].reply)  # ... any other as its JSON
    assert decode_state(orjson.loads(orjson.dumps(encoded))) == state


def test_a_version_3_snapshot_still_loads_with_its_answers_as_json():
    opened = Reply("r1", PositionOpened(POSITION, 499_223))
    closed = Reply("r3", PositionClosed(CLOSE_OF_PROTECTED, 499_100))
    v3 = {
        **encode_state(EngineState(balances={"u1": 499_223}, positions=[POSITION])),
        "version": 3,
        "recent_replies": [[reply_body(opened), TS], [reply_body(closed), TS + 2]],
    }
    state = decode_state(orjson.loads(orjson.dumps(v3)))
    # its times are when each was applied, and each was kept the 120 s window from then
    kept = [
        RecentReply(opened, TS + DEDUPE_WINDOW_US),
        RecentReply(closed, TS + 2 + DEDUPE_WINDOW_US),
    ]
    assert state.recent_replies == kept
    assert state.positions == [POSITION]


def test_a_version_4_snapshot_keeps_its_answers_the_window_from_when_they_were_applied():
    opened = Reply("r1", PositionOpened(POSITION, 499_223))
    closed = Reply("r3", PositionClosed(CLOSE_OF_PROTECTED, 499_100))
    applied = EngineState(recent_replies=[RecentReply(opened, TS), RecentReply(closed, TS + 2)])
    v4 = {**encode_state(applied), "version": 4}  # the same rows, with the time applied
    state = decode_state(orjson.loads(orjson.dumps(v4)))
    assert [until - DEDUPE_WINDOW_US for _, until in state.recent_replies] == [TS, TS + 2]
    assert [reply for reply, _ in state.recent_replies] == [opened, closed]


def test_a_version_1_snapshot_still_loads_keeping_its_rejections():
    v1 = {
        "version": 1,
        "balances": {"u1": 499_223},
        "open_orders": [["o1", "u1", "ETH", "short", 777, 9, 3_000_000_000, 3_333_333_334, TS]],
        "closed_orders": {"o0": ["u2", True]},
        "quotes": {"ETH": [3_001_000_000, TS, 3_000_000_000, 3_002_000_000]},
        "recent_replies": [
            {"requestId": "r1", "ok": True, "data": {"orderId": "o1"}},
            {"requestId": "r2", "ok": False, "code": "STALE_PRICE", "message": "old"},
        ],
        "ledger": [1_000_000, 0, 500_000],
    }
    state = decode_state(v1)
    assert state.positions == [POSITION] and state.closed == {"o0": ClosedOrder("u2", "liquidated")}
    assert state.recent_replies == [RecentReply(Reply.rejected("r2", "STALE_PRICE", "old"), 0)]
    assert state.pending == []


def test_a_version_2_snapshot_still_loads():
    v2 = {
        "version": 2,
        "balances": {"u1": 499_223},
        "open_orders": [["o1", "u1", "ETH", "short", 777, 9, 3_000_000_000, 3_333_333_334, TS]],
        "closed_orders": {"o0": ["u2", False]},
        "quotes": {"SOL": [150_000_000, TS, None, None]},
        "recent_replies": [reply_body(Reply("r1", PositionOpened(POSITION, 499_223)))],
        "ledger": [1_000_000, 0, 500_000],
    }
    state = decode_state(v2)
    assert state.positions == [POSITION] and state.closed == {"o0": ClosedOrder("u2", "closed")}
    assert state.quotes == {"SOL": Quote(150_000_000, TS, 150_000_000, 150_000_000)}
    assert state.recent_replies == [RecentReply(Reply("r1", PositionOpened(POSITION, 499_223)), 0)]
    with pytest.raises(CodecError, match="version"):
        decode_state({**v2, "version": 99})

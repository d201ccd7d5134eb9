"""`GET /trade/history` and its statement (`?format=csv`) against a real PostgreSQL written by
the DB writer: the SPEC §7 fields, pending and cancelled orders, analytics from the close
rows, and the CSV: the same rows as the JSON, exact, filtered, streamed, of any size."""

from __future__ import annotations

import csv
import io
import json
import secrets
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import orjson
import pytest
from sqlalchemy import text

from exness.adapters.db.queries import HistoryFilter
from exness.adapters.db.session import create_engine
from exness.adapters.db.writer import DbWriter
from exness.adapters.idempotency import MemoryIdempotencyStore
from exness.services.server.app import create_app
from exness.services.server.auth import SessionTokens
from exness.services.server.metrics import Metrics
from exness.services.server.ratelimit import RateLimiter
from exness.services.server.resources import Resources
from exness.services.server.schemas import HISTORY_FIELDS
from exness.services.server.sessions import MemorySessionStore
from exness.services.server.statement import statement_chunks
from exness.settings import get_settings
from tests.fakes.order_lives import Lives, Plan

pytestmark = pytest.mark.integration

D = Decimal


@dataclass
class Api:
    client: httpx.AsyncClient
    sessions: SessionTokens
    session_store: MemorySessionStore

    async def auth(self, user: str) -> dict[str, str]:
        session = self.sessions.new_session(user, f"{user}@x.io")
        await self.session_store.open(session)
        return {"authorization": f"Bearer {self.sessions.sign(session)}"}

    async def history(self, user: str, **params: object) -> dict:
        answer = await self.client.get(
            "/trade/history", params=params, headers=await self.auth(user)
        )
        assert answer.status_code == 200, answer.text
        return orjson.loads(answer.content) | {"raw": answer.content}

    async def statement(self, user: str, **params: object) -> httpx.Response:
        params["format"] = "csv"
        answer = await self.client.get(
            "/trade/history", params=params, headers=await self.auth(user)
        )
        assert answer.status_code == 200, answer.text
        return answer


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def api(db, tmp_path) -> AsyncIterator[Api]:
    secret = secrets.token_urlsafe(40)
    settings = get_settings(jwt_secret=secret, exness_home=str(tmp_path), rate_limit_per_minute=0)
    resources = Resources(
        settings=settings,
        engine=None,  # type: ignore[arg-type]  # history reads the database only
        quotes=None,  # type: ignore[arg-type]
        db=db,
        sessions=SessionTokens(secret),
        links=None,  # type: ignore[arg-type]
        mailer=None,  # type: ignore[arg-type]
        limiter=RateLimiter(None, 0),  # type: ignore[arg-type]
        metrics=Metrics(),
        health=None,  # type: ignore[arg-type]
        session_store=MemorySessionStore(),
        idempotency=MemoryIdempotencyStore(),
    )
    transport = httpx.ASGITransport(app=create_app(settings, resources))
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        yield Api(client, resources.sessions, resources.session_store)


@pytest.fixture
async def written(db) -> Lives:
    lives = Lives()
    lives.wallet("alice")
    lives.wallet("bob")
    steps = (("close", 2_500), ("modify", 2))
    lives.live("alice", "eth-open", "ETH", Plan("long", "limit", 5, 10_000, 1, "fill", steps))
    lives.live("alice", "btc-pending", "BTC", Plan("short", "stop", 10, 4_000, 1, "wait"))
    closes = (("close", 1_000), ("close", 500))
    manual = Plan("long", "market", 10, 3_000, 0, steps=closes, end="manual")
    lives.live("alice", "sol-closed", "SOL", manual)
    lives.live("alice", "sol-cancelled", "SOL", Plan("short", "limit", 2, 700, 0, "cancel"))
    lives.live("alice", "sol-liq", "SOL", Plan("short", "market", 50, 900, end="liquidation"))
    lives.live("bob", "sol-bob", "SOL", Plan("long", "market", 10, 1_000, end="tp"))
    await DbWriter(db).write(lives.operations)
    return lives


def by_order(body: dict) -> dict[str, dict]:
    return {item["orderId"]: item for item in body["data"]}


async def test_history_items_show_order_types_levels_partial_closes_and_reasons(api, written):
    items = by_order(await api.history("alice", status="any"))
    assert set(items) == {"eth-open", "btc-pending", "sol-closed", "sol-cancelled", "sol-liq"}
    eth = items["eth-open"]
    assert (eth["status"], eth["orderType"], eth["triggerPrice"]) == ("open", "limit", 1900)
    assert (eth["margin"], eth["openMargin"]) == (100, 75)
    assert eth["closeReason"] == "manual" and eth["pnl"] is not None
    assert eth["pnlPercentage"] is None  # still open: realized so far, no percentage
    assert eth["stopLoss"] is not None and eth["takeProfit"] == 2090
    assert eth["openedAt"] > eth["createdAt"] and eth["closedAt"] is None
    pending = items["btc-pending"]
    assert (pending["status"], pending["orderType"], pending["openPrice"]) == (
        "pending",
        "stop",
        None,
    )
    assert pending["openMargin"] == pending["margin"] == 40 and pending["triggerPrice"] == 57000
    cancelled = items["sol-cancelled"]
    assert (cancelled["status"], cancelled["openMargin"], cancelled["openedAt"]) == (
        "cancelled",
        0,
        None,
    )
    closed = items["sol-closed"]
    assert (closed["status"], closed["closeReason"], closed["openMargin"]) == (
        "closed",
        "manual",
        0,
    )
    liquidated = items["sol-liq"]
    assert (liquidated["closeReason"], liquidated["liquidated"]) == ("liquidation", True)
    assert liquidated["pnl"] == -9 and liquidated["pnlPercentage"] == -100
    # the tick's ask (a short), beyond the liquidation price, not the liquidation price itself
    assert liquidated["closePrice"] > liquidated["liquidationPrice"]


async def test_statuses_filter_trades_and_orders(api, written):
    async def orders(**params: object) -> set[str]:
        return set(by_order(await api.history("alice", **params)))

    assert await orders() == {"eth-open", "sol-closed", "sol-liq"}  # trades that opened
    assert await orders(status="open") == {"eth-open"}
    assert await orders(status="closed") == {"sol-closed", "sol-liq"}
    assert await orders(status="liquidated") == {"sol-liq"}
    assert await orders(status="pending") == {"btc-pending"}
    assert await orders(status="cancelled") == {"sol-cancelled"}
    assert len(await orders(status="any")) == 5
    assert await orders(status="any", orderType="limit") == {"eth-open", "sol-cancelled"}
    assert await orders(closeReason="liquidation") == {"sol-liq"}
    assert await orders(closeReason="manual") == {"eth-open", "sol-closed"}
    answer = await api.client.get(
        "/trade/history", params={"status": "deleted"}, headers=await api.auth("alice")
    )
    assert answer.status_code == 400


async def test_rows_that_tie_on_the_sort_key_come_in_the_order_they_were_made(api, db):
    # One batch writes its rows in order-id order; "z-" sorts after "a-" but was made first.
    lives = Lives()
    lives.wallet("carol")
    made = ["z-first", "m-second", "a-third"]
    for order_id in made:
        lives.live("carol", order_id, "SOL", Plan("long", "market", 10, 1_000))
    await DbWriter(db).write(lives.operations)

    async def order(**params: object) -> list[str]:
        return [item["orderId"] for item in (await api.history("carol", **params))["data"]]

    for key in ("openPrice", "asset", "status", "tradeType", "margin", "leverage"):
        assert await order(sortBy=key, sortOrder="asc") == made, key
        assert await order(sortBy=key, sortOrder="desc") == made[::-1], key
    assert await order() == made[::-1]


async def test_analytics_realized_pnl_is_the_sum_of_the_close_rows(api, written, db):
    body = await api.history("alice", status="any")
    analytics = body["analytics"]
    async with db.connect() as connection:
        realized = (
            await connection.execute(
                text(
                    "SELECT sum(c.pnl) FROM trade_closes c JOIN trades t USING (order_id)"
                    " WHERE t.user_id = 'alice'"
                )
            )
        ).scalar_one()
    assert D(str(analytics["totalPnl"])) == realized
    assert b'"totalPnl":' + format(realized, "f").encode() in body["raw"]  # exact
    assert analytics["closes"] == 1 + 3 + 1
    assert analytics["closeReasons"] == {"manual": 4, "sl": 0, "tp": 0, "liquidation": 1}
    assert (analytics["pendingOrders"], analytics["cancelledOrders"]) == (1, 1)
    assert (analytics["openTrades"], analytics["closedTrades"]) == (1, 1)
    assert analytics["liquidatedTrades"] == 1 and analytics["totalTrades"] == 5
    # the default view: only trades that opened
    assert (await api.history("alice"))["analytics"]["pendingOrders"] == 0


# ---- the statement ---------------------------------------------------------------------------


def parse(answer: httpx.Response) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == HISTORY_FIELDS
    return [dict(zip(HISTORY_FIELDS, row, strict=True)) for row in rows[1:]]


def json_text(value: object) -> str:
    """What a statement cell holds for a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "any"},
        {},
        {"status": "closed", "asset": "SOL"},
        {"status": "any", "orderType": "limit", "sortBy": "pnl", "sortOrder": "asc"},
        {"tradeType": "SHORT", "status": "any"},
    ],
    ids=["any", "default", "closed SOL", "limit by pnl", "shorts"],
)
async def test_the_statement_is_the_same_rows_as_the_json_exactly(api, written, params):
    answer = await api.statement("alice", **params)
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="statement-') and disposition.endswith(
        '.csv"'
    )
    lines = parse(answer)
    raw = (await api.history("alice", **params))["raw"]
    items = json.loads(raw, parse_float=Decimal)["data"]  # each number as its exact text
    assert [line["orderId"] for line in lines] == [item["orderId"] for item in items]
    for line, item in zip(lines, items, strict=True):
        for name in HISTORY_FIELDS:
            if name in ("duration", "durationInSeconds") and item["status"] in ("open", "pending"):
                continue  # they run up to "now", a moment apart
            assert line[name] == json_text(item[name]), (name, line[name], item[name])


async def test_statement_numbers_are_exact_text_never_floats(api, written):
    lines = {line["orderId"]: line for line in parse(await api.statement("alice", status="any"))}
    eth = lines["eth-open"]
    assert (eth["margin"], eth["openMargin"], eth["triggerPrice"]) == (
        "100.00",
        "75.00",
        "1900.000000",
    )
    assert lines["sol-liq"]["pnl"] == "-9.00" and lines["sol-liq"]["pnlPercentage"] == "-100.00"
    assert lines["btc-pending"]["openPrice"] == "" and lines["btc-pending"]["triggerPrice"] == (
        "57000.0000"
    )
    for line in lines.values():
        assert line["createdAt"].endswith("Z") and "T" in line["createdAt"]
        datetime.fromisoformat(line["createdAt"].replace("Z", "+00:00"))


async def test_limit_and_offset_do_not_cut_the_statement(api, written):
    assert len(parse(await api.statement("alice", status="any", limit=1, offset=3))) == 5
    assert parse(await api.statement("bob"))[0]["orderId"] == "sol-bob"  # only one's own
    assert parse(await api.statement("nobody")) == []  # just the header


async def insert_trades(db, user: str, count: int) -> None:
    """`count` closed market trades of `user`, made by the database itself."""
    async with db.begin() as connection:
        await connection.execute(
            text("INSERT INTO users (id, created_at) VALUES (:u, now())"), {"u": user}
        )
        await connection.execute(
            text(
                "INSERT INTO trades (order_id, user_id, asset_id, trade_type, order_type, margin,"
                " open_margin, leverage, open_price, liquidation_price, close_price, close_reason,"
                " last_close_margin, pnl, created_at, opened_at, closed_at)"
                " SELECT :u || '-' || n, :u, 1 + n % 3, 'LONG', 'market', 10 + n / 100.0, 0,"
                " 10, 100 + n / 1000000.0, 90, 101, 'manual', 10 + n / 100.0,"
                " (n % 200 - 100) / 100.0, timestamptz '2024-01-01Z' + n * interval '1 second',"
                " timestamptz '2024-01-01Z' + n * interval '1 second',"
                " timestamptz '2024-01-01Z' + (n + 30) * interval '1 second'"
                " FROM generate_series(1, :count) AS n"
            ),
            {"u": user, "count": count},
        )


async def test_a_large_statement_is_every_row_in_order(api, db):
    await insert_trades(db, "whale", 20_000)
    lines = parse(await api.statement("whale", sortOrder="asc"))
    assert len(lines) == 20_000
    assert [line["orderId"] for line in lines[:3]] == ["whale-1", "whale-2", "whale-3"]
    assert (lines[-1]["asset"], lines[-1]["margin"]) == ("BTC", "210.00")
    assert (lines[-1]["openPrice"], lines[-2]["openPrice"]) == ("100.0200", "100.019999")
    assert lines[-1]["createdAt"] == "2024-01-01T05:33:20Z"
    assert lines[-1]["duration"] == "30s"


async def streamed(db, user: str, chunk_rows: int) -> tuple[list[int], int, int]:
    """Rows per chunk, bytes, and the peak of Python's memory while streaming `user`'s
    statement."""
    query = HistoryFilter(user, sort_order="asc", limit=1)
    sizes, total = [], 0
    tracemalloc.start()
    try:
        async for chunk in statement_chunks(db, query, datetime.now(UTC), chunk_rows):
            sizes.append(chunk.count(b"\r\n"))
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sizes, total, peak


async def test_the_statement_streams_in_chunks_in_bounded_memory(db):
    """A statement is produced a chunk at a time from a server-side cursor: the memory it takes
    is that of a chunk, whatever the number of rows (6 times more rows, the same peak)."""
    await insert_trades(db, "small", 5_000)
    await insert_trades(db, "large", 30_000)
    sizes, small_total, small_peak = await streamed(db, "small", 500)
    assert sizes[0] == 1 and sum(sizes) == 5_001  # the header, then every row
    assert set(sizes[1:]) == {500}  # a chunk per cursor fetch
    sizes, total, peak = await streamed(db, "large", 500)
    assert sum(sizes) == 30_001 and total > 6 * small_total * 0.99
    assert peak < 1.5 * small_peak, (peak, small_peak)
    assert peak < total / 2, (peak, total)


async def test_a_statement_given_up_by_its_client_gives_its_connection_back(db):
    await insert_trades(db, "whale", 5_000)
    chunks = statement_chunks(db, HistoryFilter("whale"), datetime.now(UTC), chunk_rows=100)
    await anext(chunks)
    await anext(chunks)
    assert db.pool.checkedout() == 1  # the cursor's connection, mid-statement
    await chunks.aclose()  # what the server does when the client disconnects
    assert db.pool.checkedout() == 0

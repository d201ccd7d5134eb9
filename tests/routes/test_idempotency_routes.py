"""Idempotency-Key (SPEC §7.5) in-process: the routes, the middleware and the store's rules
(the in-memory store; tests/integration/test_idempotency_store.py runs the Redis one), with
engines that time out, pause or apply late."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from exness.adapters.engine_port import EngineTimeout
from exness.adapters.idempotency import MemoryIdempotencyStore
from exness.adapters.inprocess import InProcessEngine
from exness.domain.messages import Command, GetOpenTrades, GetUsdcBalance, Reply
from tests.routes.conftest import Desk, exact, failure

SOL = 150_000_000
READS = (GetOpenTrades, GetUsdcBalance)
LONG = {"asset": "SOL", "type": "long", "margin": 1000, "leverage": 10, "slippage": 100}


@dataclass
class Switchboard:
    """The desk's engine with a switch: "ok" applies at once; "lost" times out without the
    engine ever seeing the command (it was refused late); "late" applies it but times out
    (the answer came after the server gave up: the engine kept it as the outcome); "paused"
    waits for `resume`."""

    inner: InProcessEngine
    store: MemoryIdempotencyStore
    mode: str = "ok"
    sent: list[Command] = field(default_factory=list)
    resume: asyncio.Event = field(default_factory=asyncio.Event)

    def new_request_id(self) -> str:
        return self.inner.new_request_id()

    async def send(self, command: Command) -> Reply:
        if not isinstance(command, READS):
            self.sent.append(command)
        if self.mode == "lost":
            raise EngineTimeout("the engine did not answer within 5 s")
        if self.mode == "paused":
            await self.resume.wait()
        reply = await self.inner.send(command)
        if command.request_id.startswith("idem:"):  # as the engine service does
            self.store.outcomes[command.request_id] = reply
        if self.mode == "late":
            raise EngineTimeout("the engine did not answer within 5 s")
        return reply


@pytest.fixture
def board(desk: Desk) -> Iterator[Switchboard]:
    state = desk.app.state
    switch = Switchboard(desk.engine, state.idempotency)
    state.engine = switch
    yield switch
    state.engine = desk.engine


def keyed(who: dict, key: str) -> dict:
    return {**who, "Idempotency-Key": key}


async def positions(desk: Desk, who: dict) -> list[dict]:
    return exact(await desk.client.get("/trades/open", headers=who))["trades"]


async def test_a_retry_gets_the_first_answer_and_is_not_applied_again(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    first = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "k-1"))
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    # the same body, written differently (key order, spacing): the same request
    again = await desk.client.post(
        "/trade/create",
        content=json.dumps(dict(reversed(list(LONG.items()))), indent=2),
        headers={**keyed(alice, "k-1"), "content-type": "application/json"},
    )
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert len(await positions(desk, alice)) == 1 and len(board.sent) == 1
    digest = hashlib.sha256(b"k-1").hexdigest()
    assert board.sent[0].request_id == f"idem:alice:{digest}"  # one id for every attempt


async def test_the_same_key_with_another_request_is_422(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "k"))
    other = {**LONG, "margin": 2000}
    reused = await desk.client.post("/trade/create", json=other, headers=keyed(alice, "k"))
    assert failure(reused, 422, "different request")["code"] == "IDEMPOTENCY_KEY_REUSED"
    close = {"orderId": "x"}
    elsewhere = await desk.client.post("/trade/close", json=close, headers=keyed(alice, "k"))
    failure(elsewhere, 422, "different request")
    assert len(board.sent) == 1


async def test_keys_of_different_traders_never_collide(desk, board):
    alice, bob = await desk.trader("alice"), await desk.trader("bob")
    desk.price("SOL", SOL)
    a = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "same"))
    b = await desk.client.post("/trade/create", json=LONG, headers=keyed(bob, "same"))
    assert a.status_code == b.status_code == 200 and "idempotent-replayed" not in b.headers
    assert a.json()["orderId"] != b.json()["orderId"]
    assert len(await positions(desk, alice)) == len(await positions(desk, bob)) == 1


async def test_a_request_in_flight_makes_a_retry_409_never_a_second_application(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    board.mode = "paused"
    first = asyncio.create_task(
        desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "slow"))
    )
    while not board.sent:
        await asyncio.sleep(0.001)
    busy = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "slow"))
    assert failure(busy, 409, "still being answered")["code"] == "IDEMPOTENCY_IN_FLIGHT"
    assert busy.headers["retry-after"] == "1"
    board.resume.set()
    answered = await first
    assert answered.status_code == 200
    replay = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "slow"))
    assert replay.content == answered.content and replay.headers["idempotent-replayed"] == "true"
    assert len(board.sent) == 1 and len(await positions(desk, alice)) == 1


async def test_after_a_504_the_retry_answers_the_real_outcome_when_it_was_applied(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    board.mode = "late"  # applied, but the answer came after the server gave up
    timed_out = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "t"))
    body = failure(timed_out, 504, "retry with the same Idempotency-Key")
    assert body["code"] == "ENGINE_TIMEOUT"
    board.mode = "ok"
    retry = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "t"))
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    [position] = await positions(desk, alice)
    assert retry.json()["orderId"] == position["orderId"]
    assert len(board.sent) == 1  # answered from the engine's outcome: nothing sent again
    third = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "t"))
    assert third.content == retry.content and third.headers["idempotent-replayed"] == "true"


async def test_after_a_504_the_retry_applies_it_when_the_engine_never_did(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    board.mode = "lost"
    failure(await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "l")), 504)
    board.mode = "ok"
    retry = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "l"))
    assert retry.status_code == 200
    assert len(await positions(desk, alice)) == 1
    assert [c.request_id for c in board.sent] == [board.sent[0].request_id] * 2  # the same id


async def test_a_5xx_is_not_kept_and_the_retry_goes_through(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    desk.now += 11_000_000  # the price is stale: the engine refuses (and remembers the refusal)
    stale = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "s"))
    assert failure(stale, 503, "old")["code"] == "STALE_PRICE"
    desk.price("SOL", SOL)
    retry = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "s"))
    assert retry.status_code == 200, retry.text  # under a new engine request id
    assert board.sent[1].request_id == board.sent[0].request_id + ":1"
    assert len(await positions(desk, alice)) == 1


async def test_a_4xx_is_kept_and_replayed_even_when_it_would_now_pass(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    moved = {**LONG, "price": 160_000_000}  # 6.25 % away from the engine's 150
    refused = await desk.client.post("/trade/create", json=moved, headers=keyed(alice, "r"))
    failure(refused, 400, "more than the 100 bps")
    desk.price("SOL", 160_000_000)  # it would fill now
    replay = await desk.client.post("/trade/create", json=moved, headers=keyed(alice, "r"))
    assert replay.status_code == 400 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == refused.content and await positions(desk, alice) == []
    bad = {**LONG, "leverage": 500}  # refused by validation, before the engine: kept too
    first = await desk.client.post("/trade/create", json=bad, headers=keyed(alice, "v"))
    again = await desk.client.post("/trade/create", json=bad, headers=keyed(alice, "v"))
    failure(first, 400, "leverage")
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"


async def test_every_state_changing_route_replays(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    order_id = (await desk.client.post("/trade/create", json=LONG, headers=alice)).json()["orderId"]
    limit = {**LONG, "orderType": "limit", "triggerPrice": 140_000_000}
    pending_id = (await desk.client.post("/trade/create", json=limit, headers=alice)).json()[
        "orderId"
    ]
    for path, body in [
        ("/trade/modify", {"orderId": order_id, "stopLoss": 140_000_000}),
        ("/trade/close", {"orderId": order_id, "margin": 300}),
        ("/order/cancel", {"orderId": pending_id}),
    ]:
        first = await desk.client.post(path, json=body, headers=keyed(alice, path))
        again = await desk.client.post(path, json=body, headers=keyed(alice, path))
        assert first.status_code == 200, (path, first.text)
        assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    [rest] = await positions(desk, alice)
    assert str(rest["margin"]) == "7.00"  # the partial close was applied once
    balance = (await desk.client.get("/balance/usd", headers=alice)).json()["balance"]
    assert balance == 500_000 - 1000 + 300  # the cancelled reserve came back once, pnl 0


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "naïve", "tab\tkey"])
async def test_a_malformed_key_is_400(desk, board, key):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    headers = [(k, v) for k, v in alice.items()] + [("Idempotency-Key", key.encode())]
    answer = await desk.client.post("/trade/create", json=LONG, headers=headers)
    failure(answer, 400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    assert board.sent == []


async def test_the_longest_key_and_every_visible_character_are_taken(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    for key in ("k" * 255, "".join(map(chr, range(0x21, 0x7F)))):
        answer = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, key))
        assert answer.status_code == 200, answer.text


async def test_without_a_session_the_key_is_not_used_up(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    anonymous = await desk.client.post("/trade/create", json=LONG, headers={"Idempotency-Key": "a"})
    failure(anonymous, 401)
    signed_in = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "a"))
    assert signed_in.status_code == 200 and "idempotent-replayed" not in signed_in.headers


async def test_reads_and_unkeyed_requests_are_untouched(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    for _ in range(2):
        opened = await desk.client.post("/trade/create", json=LONG, headers=alice)
        assert opened.status_code == 200
        listed = await desk.client.get("/trades/open", headers=keyed(alice, "get"))
        assert "idempotent-replayed" not in listed.headers
    assert len(await positions(desk, alice)) == 2
    assert not any(c.request_id.startswith("idem:") for c in board.sent)


class Unreachable(MemoryIdempotencyStore):
    async def begin(self, *args, **kwargs):
        raise RedisConnectionError("Redis went away")


async def test_without_its_store_a_keyed_request_is_503_and_not_applied(desk, board):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL)
    kept = desk.app.state.idempotency
    desk.app.state.idempotency = Unreachable()
    try:
        answer = await desk.client.post("/trade/create", json=LONG, headers=keyed(alice, "u"))
    finally:
        desk.app.state.idempotency = kept
    assert failure(answer, 503, "unavailable")["code"] == "UNAVAILABLE"
    assert board.sent == []

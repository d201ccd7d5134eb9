"""Idempotency-Key through HTTP with the services as processes (SPEC §7.5): replays, a reused
key, a retry while the first attempt is in flight (the engine paused with SIGSTOP), a 504
then a retry that learns the real outcome and never opens a second position, and a server
killed mid-request whose retry is answered from the engine's outcome.

The engine time-out is short here (2 s) so that the 504s come quickly."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import threading
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
import redis

from exness.adapters import keys
from tests.e2e.api import Trader, assert_failure, exact, module_stack, set_price, sign_up
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e

stack = module_stack("api-idempotency", 8, PRICE_MAX_AGE_S="3600", ENGINE_RPC_TIMEOUT_S="2")

LONG = {"asset": "SOL", "type": "long", "margin": 1000, "leverage": 10, "slippage": 1000}


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}


class Paused:
    """The engine service stopped (SIGSTOP) until the block ends (SIGCONT)."""

    def __init__(self, stack: Stack) -> None:
        self.engine = stack.services["engine"]

    def __enter__(self) -> Paused:
        self.engine.signal(signal.SIGSTOP)
        return self

    def resume(self) -> None:
        self.engine.signal(signal.SIGCONT)

    def __exit__(self, *_: object) -> None:
        self.resume()


@contextlib.contextmanager
def in_background(call) -> Iterator[dict]:
    """Run `call` in a thread; the yielded dict gets its "answer" (or "error") by the end of
    the block."""
    box: dict = {}

    def run() -> None:
        try:
            box["answer"] = call()
        except httpx.HTTPError as error:
            box["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    yield box
    thread.join(30)


def opening(trader: Trader, headers: dict[str, str]) -> contextlib.AbstractContextManager[dict]:
    """POST /trade/create of LONG in the background."""
    return in_background(lambda: trader.post("/trade/create", json=LONG, headers=headers))


def copies_sent(stack: Stack, headers: dict[str, str]) -> int:
    """How many times a command of this key reached the engine (its journal)."""
    digest = hashlib.sha256(headers["Idempotency-Key"].encode()).hexdigest()
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        return sum(
            1
            for _, fields in client.xrange(keys.JOURNAL)
            if fields[b"k"] == b"c"
            and orjson.loads(fields[b"d"]).get("requestId", "").endswith(f":{digest}")
        )


def queued(stack: Stack) -> int:
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        return int(client.llen(keys.TRADE_QUEUE))


def test_a_retry_is_replayed_and_another_body_is_422(stack: Stack):
    trader = sign_up(stack)
    set_price(stack, "SOL", "150")
    headers = key()
    first = trader.post("/trade/create", json=LONG, headers=headers)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = trader.post("/trade/create", json=LONG, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert len(trader.open_trades()) == 1 and trader.balance() == 499_000

    reused = trader.post("/trade/create", json={**LONG, "margin": 999}, headers=headers)
    assert_failure(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    # another trader's same key is another request
    other = sign_up(stack)
    theirs = other.post("/trade/create", json=LONG, headers=headers)
    assert theirs.status_code == 200 and "idempotent-replayed" not in theirs.headers
    assert exact(theirs)["orderId"] != exact(first)["orderId"]

    # every state-changing route: close (part), modify, cancel
    order_id = exact(first)["orderId"]
    for path, body in [
        ("/trade/modify", {"orderId": order_id, "stopLoss": 140_000_000}),
        ("/trade/close", {"orderId": order_id, "margin": 400}),
    ]:
        headers = key()
        answers = [trader.post(path, json=body, headers=headers) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200], answers[0].text
        assert answers[1].content == answers[0].content
    [rest] = trader.open_trades()
    assert str(rest["margin"]) == "6.00"


def test_a_retry_while_the_first_attempt_is_in_flight_is_409(stack: Stack):
    trader = sign_up(stack)
    set_price(stack, "SOL", "150")
    headers = key()
    with Paused(stack) as paused, opening(trader, headers) as box:
        wait_until(lambda: queued(stack) >= 1, 10, "the first attempt to reach the queue")
        busy = trader.post("/trade/create", json=LONG, headers=headers)
        assert_failure(busy, 409, "IDEMPOTENCY_IN_FLIGHT")
        assert busy.headers["retry-after"] == "1"
        paused.resume()  # within the first attempt's deadline: it is applied and answered
    first = box["answer"]
    assert first.status_code == 200, first.text
    replay = trader.post("/trade/create", json=LONG, headers=headers)
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    assert len(trader.open_trades()) == 1


def test_after_a_504_the_retry_gives_the_real_outcome_and_never_a_second_position(
    stack: Stack,
):
    """The issue's scenario: the engine paused, the request answered 504, the engine resumed
    (it refuses the late command unapplied), the retry with the same key opens exactly one
    position, and later retries replay it."""
    trader = sign_up(stack)
    set_price(stack, "SOL", "150")
    headers = key()
    with Paused(stack):
        timed_out = trader.post("/trade/create", json=LONG, headers=headers)
    body = assert_failure(timed_out, 504)
    assert "retry with the same Idempotency-Key" in body["message"]
    wait_until(lambda: queued(stack) == 0, 10, "the engine to take the late command")

    retry = trader.post("/trade/create", json=LONG, headers=headers)
    assert retry.status_code == 200, retry.text
    [position] = trader.open_trades()
    assert position["orderId"] == exact(retry)["orderId"]
    assert trader.balance() == 499_000
    again = trader.post("/trade/create", json=LONG, headers=headers)
    assert again.content == retry.content and again.headers["idempotent-replayed"] == "true"
    assert len(trader.open_trades()) == 1
    assert copies_sent(stack, headers) == 2  # the late copy (refused unapplied) and the retry


def test_a_retry_sent_while_the_engine_still_holds_the_first_copy_applies_once(stack: Stack):
    """504, then a retry while the engine is still paused: the engine finds both copies of
    the request; the first is late and refused, the second is applied, once, and its
    answer (not the first copy's refusal) is the retry's."""
    trader = sign_up(stack)
    set_price(stack, "SOL", "150")
    headers = key()
    with Paused(stack) as paused:
        assert_failure(trader.post("/trade/create", json=LONG, headers=headers), 504)
        with opening(trader, headers) as box:
            wait_until(lambda: queued(stack) >= 2, 10, "the retry to reach the queue")
            paused.resume()
    retry = box["answer"]
    assert retry.status_code == 200, retry.text
    [position] = trader.open_trades()
    assert position["orderId"] == exact(retry)["orderId"] and trader.balance() == 499_000


def test_a_server_killed_mid_request_the_retry_answers_from_the_engines_outcome(stack: Stack):
    trader = sign_up(stack)
    set_price(stack, "SOL", "150")
    headers = key()
    server = stack.services["server"]
    with Paused(stack) as paused, opening(trader, headers) as box:
        wait_until(lambda: queued(stack) >= 1, 10, "the request to reach the queue")
        server.kill()
        paused.resume()  # the engine applies it in time; its answer finds no server
    assert "error" in box  # the client never got an answer
    server.start()
    stack.wait_ready()

    def answered() -> httpx.Response | None:
        response = trader.post("/trade/create", json=LONG, headers=headers)
        return None if response.status_code == 409 else response  # the dead attempt's lock

    retry = wait_until(answered, 20, "the dead attempt's lock to lapse", every=0.2)
    assert retry.status_code == 200, retry.text
    [position] = trader.open_trades()
    assert position["orderId"] == exact(retry)["orderId"]  # the engine's outcome, not a new one
    assert trader.balance() == 499_000
    assert copies_sent(stack, headers) == 1  # answered from the outcome: nothing sent again

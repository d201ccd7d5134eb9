"""The server's RPC client against real Redis, with a stand-in engine that answers over
the same lists the real one uses."""

from __future__ import annotations

import asyncio

import pytest

from exness.adapters import keys
from exness.adapters.engine_port import EngineTimeout
from exness.adapters.rpc import EngineClient, now_us
from exness.codec.commands import decode_command
from exness.codec.replies import encode_reply
from exness.domain.messages import Balance, CloseTrade, GetUsdcBalance, Reply

pytestmark = pytest.mark.integration


def balance_of(engine: EngineClient, user_id: str) -> GetUsdcBalance:
    return GetUsdcBalance(engine.new_request_id(), user_id)


async def answer_everything(client, count: int) -> list:
    """Take `count` commands off the wallet queue and answer each, as the engine would."""
    taken = []
    while len(taken) < count:
        popped = await client.brpop([keys.WALLET_QUEUE], timeout=5)
        assert popped is not None
        envelope = decode_command(popped[1], 0)
        taken.append(envelope.command)
        reply = Reply(envelope.command.request_id, Balance(len(taken)))
        await client.lpush(envelope.reply_to, encode_reply(reply))
    return taken


async def test_concurrent_calls_are_answered_each_by_its_own_reply(redis_client, redis_url):
    engine = EngineClient(redis_client, redis_url, timeout_s=5)
    await engine.start()
    try:
        calls = [engine.send(balance_of(engine, f"user-{n}")) for n in range(50)]
        answered, replies = await asyncio.gather(
            answer_everything(redis_client, 50), asyncio.gather(*calls)
        )
        by_user = {command.user_id: n + 1 for n, command in enumerate(answered)}
        assert [reply.result.balance for reply in replies] == [
            by_user[f"user-{n}"] for n in range(50)
        ]
    finally:
        await engine.stop()


async def test_an_engine_that_does_not_answer_is_a_timeout(redis_client, redis_url):
    engine = EngineClient(redis_client, redis_url, timeout_s=0.3)
    await engine.start()
    try:
        with pytest.raises(EngineTimeout, match=r"did not answer within 0\.3 s"):
            await engine.send(balance_of(engine, "nobody-home"))
        # the request is still queued; an engine that came back would refuse it as late
        assert await redis_client.llen(keys.WALLET_QUEUE) == 1
        # a late reply finds no caller and is dropped quietly; the client keeps working
        late = decode_command((await redis_client.rpop(keys.WALLET_QUEUE)), 0)
        late_reply = Reply(late.command.request_id, Balance(0))
        await redis_client.lpush(late.reply_to, encode_reply(late_reply))
        second = asyncio.create_task(engine.send(balance_of(engine, "someone")))
        await answer_everything(redis_client, 1)
        assert (await second).ok
    finally:
        await engine.stop()


async def test_every_command_carries_a_deadline_a_little_before_the_time_out(
    redis_client, redis_url
):
    """The engine refuses a command taken after its deadline; the deadline comes before the
    server's own time-out (by a fifth of it, at most 0.25 s), so a refusal, or the answer to
    a command taken just in time, still reaches the server before it answers 504."""
    for timeout_s, margin_s in ((5, 0.25), (0.5, 0.1)):
        engine = EngineClient(redis_client, redis_url, timeout_s=timeout_s)
        await engine.start()
        try:
            sent_at = now_us()
            call = asyncio.create_task(engine.send(balance_of(engine, "alice")))
            [command] = await answer_everything(redis_client, 1)
            await call
            expected = sent_at + (timeout_s - margin_s) * 1_000_000
            assert expected <= command.deadline <= expected + 100_000
        finally:
            await engine.stop()


async def test_an_older_copys_late_refusal_does_not_answer_a_retry(redis_client, redis_url):
    """A retried idempotent request is sent again with the same request id; the refusal of
    the earlier copy (taken after its deadline) must not be taken for the retry's answer."""
    engine = EngineClient(redis_client, redis_url, timeout_s=5)
    await engine.start()
    try:
        request_id = f"{keys.IDEMPOTENT_PREFIX}alice:abc"
        retry = asyncio.create_task(engine.send(CloseTrade(request_id, "alice", "order-1")))
        popped = await redis_client.brpop([keys.TRADE_QUEUE], timeout=5)
        envelope = decode_command(popped[1], 0)
        late = Reply.rejected(request_id, "DEADLINE_EXCEEDED", "the earlier copy, too late")
        await redis_client.lpush(envelope.reply_to, encode_reply(late))
        await asyncio.sleep(0.2)
        assert not retry.done()  # ignored: the retry's own deadline has not passed
        await redis_client.lpush(envelope.reply_to, encode_reply(Reply(request_id, Balance(1))))
        assert (await retry).ok
    finally:
        await engine.stop()

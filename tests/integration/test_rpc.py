"""The server's RPC client against real Redis, with a stand-in engine that answers over
the same lists the real one uses."""

from __future__ import annotations

import asyncio

import pytest

from exness.adapters import keys
from exness.adapters.engine_port import EngineTimeout
from exness.adapters.rpc import EngineClient
from exness.codec.commands import decode_command
from exness.codec.replies import encode_reply
from exness.domain.messages import Balance, GetUsdcBalance, Reply

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
        # the request is still queued: an engine that comes back would apply it
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

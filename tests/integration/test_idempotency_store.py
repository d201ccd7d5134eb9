"""The Idempotency-Key store in real Redis (adapters/idempotency.py): the same rules as the
in-memory one the route tests use, checked side by side, plus what only Redis does (the
lock's time-out, the record's 24 h, the engine's outcome keys)."""

from __future__ import annotations

import asyncio

import pytest

from exness.adapters import keys
from exness.adapters.idempotency import (
    ANSWER_TTL_S,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    engine_request_id,
    key_digest,
)
from exness.codec.replies import encode_reply
from exness.domain.messages import Balance, Reply

pytestmark = pytest.mark.integration

DIGEST = key_digest("key-1")


@pytest.fixture(params=["redis", "memory"])
def store(request, redis_client):
    if request.param == "redis":
        return RedisIdempotencyStore(redis_client)
    return MemoryIdempotencyStore()


async def test_first_then_replay_of_the_kept_answer(store):
    first = await store.begin("alice", DIGEST, "fp", 7)
    assert first.state == "first" and first.generation == 0 and first.claim is not None
    await store.finish(first.claim, b"200\n{}", renew=False)
    again = await store.begin("alice", DIGEST, "fp", 7)
    assert again.state == "replay" and again.answer == b"200\n{}" and again.claim is None


async def test_another_fingerprint_is_a_mismatch_in_flight_or_answered(store):
    first = await store.begin("alice", DIGEST, "fp", 7)
    assert (await store.begin("alice", DIGEST, "other", 7)).state == "mismatch"
    await store.finish(first.claim, b"200\n{}", renew=False)
    assert (await store.begin("alice", DIGEST, "other", 7)).state == "mismatch"


async def test_one_attempt_at_a_time(store):
    first = await store.begin("alice", DIGEST, "fp", 7)
    assert (await store.begin("alice", DIGEST, "fp", 7)).state == "busy"
    await store.finish(first.claim, None, renew=False)  # a 5xx: nothing kept
    retry = await store.begin("alice", DIGEST, "fp", 7)
    assert retry.state == "retry" and retry.generation == 0


async def test_renew_moves_to_the_next_engine_request_id_only_without_an_answer(store):
    first = await store.begin("alice", DIGEST, "fp", 7)
    await store.finish(first.claim, None, renew=True)
    second = await store.begin("alice", DIGEST, "fp", 7)
    assert second.state == "retry" and second.generation == 1
    await store.finish(second.claim, b"200\n{}", renew=True)  # an answer: kept, no renew
    assert (await store.begin("alice", DIGEST, "fp", 7)).state == "replay"


async def test_traders_do_not_share_keys(store):
    alice = await store.begin("alice", DIGEST, "fp", 7)
    bob = await store.begin("bob", DIGEST, "another body", 7)
    assert alice.state == bob.state == "first"


async def test_only_the_claims_holder_releases_the_lock(store):
    first = await store.begin("alice", DIGEST, "fp", 0.05)
    await asyncio.sleep(0.1)  # its lock timed out (a server that died mid-request)
    second = await store.begin("alice", DIGEST, "fp", 7)
    assert second.state == "retry"
    await store.finish(first.claim, None, renew=True)  # the first, late: must not release
    assert (await store.begin("alice", DIGEST, "fp", 7)).state == "busy"
    await store.finish(second.claim, b"201\nx", renew=False)
    assert (await store.begin("alice", DIGEST, "fp", 7)).answer == b"201\nx"


async def test_redis_keeps_the_record_24_hours_and_reads_the_engines_outcome(redis_client):
    store = RedisIdempotencyStore(redis_client)
    first = await store.begin("alice", DIGEST, "fp", 7)
    record = f"{keys.IDEMPOTENCY_PREFIX}alice:{DIGEST}"
    assert 0 < await redis_client.pttl(record + ":lock") <= 7000
    await store.finish(first.claim, b"200\n{}", renew=False)
    assert ANSWER_TTL_S - 5 < await redis_client.ttl(record) <= ANSWER_TTL_S
    assert await redis_client.exists(record + ":lock") == 0

    request_id = engine_request_id("alice", DIGEST, 0)
    assert await store.outcome(request_id) is None
    reply = Reply(request_id, Balance(123))
    await redis_client.set(keys.outcome_key(request_id), encode_reply(reply))
    assert await store.outcome(request_id) == reply
    await redis_client.set(keys.outcome_key(request_id), b"not json")
    assert await store.outcome(request_id) is None


def test_engine_request_ids_fit_the_codec_and_tell_generations_apart():
    assert engine_request_id("alice", DIGEST, 0) == f"idem:alice:{DIGEST}"
    assert engine_request_id("alice", DIGEST, 2) == f"idem:alice:{DIGEST}:2"
    long = engine_request_id("u" * 200, DIGEST, 7)
    assert long.startswith("idem:") and len(long) <= 128
    assert long != engine_request_id("u" * 201, DIGEST, 7)


async def test_calls_of_one_loop_turn_share_a_round_trip_and_survive_a_script_flush(
    redis_client,
):
    store = RedisIdempotencyStore(redis_client)
    await redis_client.script_flush()  # as after a Redis restart: the scripts are unknown
    begun = await asyncio.gather(
        *(store.begin(f"trader-{n}", DIGEST, "fp", 7) for n in range(50)),
        store.begin("trader-0", DIGEST, "fp", 7),  # the same key in the same turn: busy
    )
    assert [b.state for b in begun] == ["first"] * 50 + ["busy"]
    pipelines = []
    run = store._pipeline

    async def counted(batch):
        pipelines.append(len(batch))
        return await run(batch)

    store._pipeline = counted
    await asyncio.gather(*(store.finish(b.claim, b"200\n{}", False) for b in begun[:50]))
    assert pipelines == [50, 50]  # the finish script was unknown too: loaded, run again
    replays = await asyncio.gather(
        *(store.begin(f"trader-{n}", DIGEST, "fp", 7) for n in range(50))
    )
    assert pipelines == [50, 50, 50]  # one round trip for the 50 requests of this turn
    assert {replay.answer for replay in replays} == {b"200\n{}"}

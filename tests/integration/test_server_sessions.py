"""The server's Redis-backed security state against real Redis: sessions that end at once
on every process (two stores stand for two server processes), and sign-in mail limits that
hold under concurrency."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from exness.adapters import keys
from exness.services.server import sessions as sessions_module
from exness.services.server.auth import LinkTokens, SessionTokens, TooManyLinks
from exness.services.server.sessions import RedisSessionStore

pytestmark = pytest.mark.integration

TOKENS = SessionTokens("s" * 40)


async def _live(*stores: RedisSessionStore) -> None:
    """Until every store has heard a pong on its subscription (its memory is usable)."""
    deadline = time.monotonic() + 10
    while not all(store._live_until > time.monotonic() for store in stores):
        assert time.monotonic() < deadline, "the session subscriptions did not come up"
        await asyncio.sleep(0.02)


@pytest.fixture
async def two_processes(redis_url):
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    stores = [RedisSessionStore(client, redis_url, timeout_s=3) for client in clients]
    for store in stores:
        await store.start()
    await _live(*stores)
    yield stores
    for store, client in zip(stores, clients, strict=True):
        await store.stop()
        await client.aclose()


async def test_a_revoked_session_is_refused_at_once_by_every_process(two_processes):
    first, second = two_processes
    session = TOKENS.new_session("trader-1", "t1@example.com")
    other = TOKENS.new_session("trader-1", "t1@example.com")
    await first.open(session)
    await first.open(other)

    for store in (first, second):
        assert await store.alive(session) and await store.alive(other)
    lookups = (first.lookups, second.lookups)
    for _ in range(100):  # remembered: no more round trips
        assert await first.alive(session) and await second.alive(session)
    assert (first.lookups, second.lookups) == lookups

    await first.revoke(session)  # returns once both processes have acknowledged

    assert not await second.alive(session)
    assert not await first.alive(session)
    assert await second.alive(other)  # the trader's other session is untouched


async def test_revoking_every_session_of_a_trader(two_processes, redis_client):
    first, second = two_processes
    mine = [TOKENS.new_session("trader-2", "t2@example.com") for _ in range(3)]
    theirs = TOKENS.new_session("trader-3", "t3@example.com")
    for session in [*mine, theirs]:
        await first.open(session)
        assert await second.alive(session)

    assert await second.revoke_all("trader-2") == 3

    for session in mine:
        assert not await first.alive(session)
        assert not await second.alive(session)
        assert not await redis_client.exists(keys.SESSION_PREFIX + session.session_id)
    assert await first.alive(theirs) and await second.alive(theirs)
    assert await first.revoke_all("trader-2") == 0


async def test_sessions_expire_with_their_token(two_processes, redis_client):
    first, _ = two_processes
    session = TOKENS.new_session("trader-4", "t4@example.com")
    await first.open(session)
    ttl = await redis_client.ttl(keys.SESSION_PREFIX + session.session_id)
    assert TOKENS.lifetime_s - 5 <= ttl <= TOKENS.lifetime_s
    trader_ttl = await redis_client.ttl(keys.TRADER_SESSIONS_PREFIX + "trader-4")
    assert TOKENS.lifetime_s - 5 <= trader_ttl <= TOKENS.lifetime_s


async def test_a_process_without_a_current_subscription_asks_redis(
    two_processes, redis_client, monkeypatch
):
    first, second = two_processes
    session = TOKENS.new_session("trader-5", "t5@example.com")
    await first.open(session)
    assert await second.alive(session)
    await redis_client.delete(keys.SESSION_PREFIX + session.session_id)  # a missed revocation
    # As if the second process had heard nothing for longer than LIVE_S (frozen, cut off):
    # it must not trust its memory, and sees the revocation in Redis. (No await in between:
    # a pong heard meanwhile would make the memory usable again.)
    second._live_until = 0.0
    before = second.lookups
    assert not await second.alive(session)
    assert second.lookups == before + 1


async def test_a_new_subscription_forgets_what_was_remembered(two_processes, redis_client):
    first, _ = two_processes
    session = TOKENS.new_session("trader-6", "t6@example.com")
    await first.open(session)
    assert await first.alive(session)
    assert session.session_id in first._known
    # Redis drops the subscriber (as after a restart); the store resubscribes by itself
    await redis_client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    deadline = time.monotonic() + 10
    while session.session_id in first._known:
        assert time.monotonic() < deadline, "the memory survived a new subscription"
        await asyncio.sleep(0.02)
    await _live(first)
    assert await first.alive(session)


async def test_sign_out_waits_for_a_silent_process_no_longer_than_the_bound(
    two_processes, redis_url, monkeypatch
):
    """A third subscriber that never acknowledges (a stuck process): the sign-out still
    answers, after ACK_WAIT_S."""
    monkeypatch.setattr(sessions_module, "ACK_WAIT_S", 0.5)
    first, _ = two_processes
    silent = aioredis.Redis.from_url(redis_url)
    pubsub = silent.pubsub()
    await pubsub.subscribe(keys.SESSION_EVENTS)
    try:
        session = TOKENS.new_session("trader-7", "t7@example.com")
        await first.open(session)
        started = time.monotonic()
        await first.revoke(session)
        assert 0.4 < time.monotonic() - started < 3
    finally:
        await pubsub.aclose()
        await silent.aclose()


# ---- sign-in mail limits -----------------------------------------------------------------------


async def test_per_address_limit_holds_under_concurrency(redis_client):
    links = LinkTokens(redis_client, per_address=5, window_s=900, per_hour=0)
    outcomes = await asyncio.gather(
        *(links.create("a@example.com") for _ in range(40)), return_exceptions=True
    )
    made = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, TooManyLinks)]
    assert len(made) == 5 and len(refused) == 35
    assert all(r.per_address and 1 <= r.retry_after_s <= 900 for r in refused)
    # another address is not affected
    assert isinstance(await links.create("b@example.com"), str)
    # only the newest of the five links signs in
    redeemed = [await links.redeem(token) for token in made]
    assert redeemed.count("a@example.com") == 1


async def test_a_new_link_replaces_the_previous_one(redis_client):
    links = LinkTokens(redis_client, per_address=5, window_s=900, per_hour=0)
    first = await links.create("c@example.com")
    second = await links.create("c@example.com")
    assert await links.redeem(first) is None
    assert await links.redeem(second) == "c@example.com"
    assert await links.redeem(second) is None  # once


async def test_the_global_budget_holds_under_concurrency(redis_client):
    links = LinkTokens(redis_client, per_address=5, window_s=900, per_hour=7)
    outcomes = await asyncio.gather(
        *(links.create(f"user{n}@example.com") for n in range(30)), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, TooManyLinks)]
    assert len([o for o in outcomes if isinstance(o, str)]) == 7
    assert len(refused) == 23
    assert all(not r.per_address and 3590 <= r.retry_after_s <= 3600 for r in refused)


async def test_a_silent_subscription_is_replaced_and_trusted_only_again_after(
    redis_url, monkeypatch
):
    """Redis stops answering for a while (CLIENT PAUSE): the memory stops being trusted
    within LIVE_S, the silent subscription is given up after SILENT_S, and a new one (with an
    empty memory) takes over once Redis answers again."""
    monkeypatch.setattr(sessions_module, "SILENT_S", 1.0)
    monkeypatch.setattr(sessions_module, "LIVE_S", 0.6)
    client = aioredis.Redis.from_url(redis_url)
    store = RedisSessionStore(client, redis_url, timeout_s=1)
    await store.start()
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await _live(store)
        session = TOKENS.new_session("trader-8", "t8@example.com")
        await store.open(session)
        assert await store.alive(session)
        epoch = store._epoch

        await admin.execute_command("CLIENT", "PAUSE", "2500", "ALL")
        paused = time.monotonic()
        await asyncio.sleep(1.0)
        assert store._live_until < time.monotonic()  # no pong: the memory is not trusted
        with pytest.raises(TimeoutError):  # and Redis does not answer: 503, not a hang
            await store.alive(session)
        await asyncio.sleep(max(0.0, 2.5 - (time.monotonic() - paused)))

        await _live(store)
        assert store._epoch > epoch  # a new subscription...
        assert session.session_id not in store._known  # ...that forgot what it knew
        assert await store.alive(session)
    finally:
        await store.stop()
        await client.aclose()
        await admin.aclose()

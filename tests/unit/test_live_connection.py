"""One socket's logic (services/server/live/connection.py) with fake ends: a peer that stops
reading is closed (1013) without delaying another socket; the private feed's bookkeeping;
a catch-up that cannot read the log closes the socket (1011) rather than skip events."""

from __future__ import annotations

import asyncio

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError

from exness.services.server.auth import Session
from exness.services.server.live import LiveHub, LiveLimits
from exness.services.server.live.candles import CandleBook
from exness.services.server.live.connection import LiveConnection
from tests.fakes.live import MemoryLog, batch


class Peer:
    """The far end of a socket: what it was sent, and whether it reads at all."""

    def __init__(self, reading: bool = True) -> None:
        self.frames: list[dict] = []
        self.closed: tuple[int, str] | None = None
        self.reading = asyncio.Event()
        if reading:
            self.reading.set()

    async def send(self, texts: list[str]) -> None:
        await self.reading.wait()  # a stalled reader: the transport never drains
        self.frames += [orjson.loads(text) for text in texts]

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def numbered(self) -> list[int]:
        return [f["traderSeq"] for f in self.frames if "traderSeq" in f]


async def no_auth(token: str) -> Session | None:
    return None


def hub(log: MemoryLog, **limits: float) -> LiveHub:
    book = CandleBook("redis://127.0.0.1:1", None, None)  # type: ignore[arg-type]
    return LiveHub(log, book, LiveLimits(**limits))  # type: ignore[arg-type]


def connect(live: LiveHub, peer: Peer, trader: str | None) -> LiveConnection:
    session = None if trader is None else Session(trader, f"{trader}@x.io", 2**40, f"s-{trader}")
    connection = LiveConnection(live, peer.send, peer.close, no_auth, session)
    connection.start()
    return connection


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_stalled_peer_is_closed_1013_and_the_other_keeps_receiving():
    log = MemoryLog()
    live = hub(log, max_private=5)
    slow_peer, quick_peer = Peer(reading=False), Peer()
    slow = connect(live, slow_peer, "slow")
    quick = connect(live, quick_peer, "quick")
    for connection in (slow, quick):
        await connection.receive_text('{"op":"subscribe","channels":["account","quotes"]}')
    await settle()
    for n in range(10):
        live.on_events(batch(log.add("slow", n=n), log.add("quick", n=n)))
        await settle()
    assert slow_peer.closed is not None and slow_peer.closed[0] == 1013
    assert "more than 5" in slow_peer.closed[1]
    assert quick_peer.numbered() == list(range(1, 11))
    assert slow not in live.connections and quick in live.connections
    # the slow socket gets nothing more, the quick one goes on
    live.on_events(batch(log.add("slow", n=10), log.add("quick", n=10)))
    await settle()
    assert quick_peer.numbered()[-1] == 11
    await slow.finish()
    await quick.finish()


async def test_events_of_a_trader_reach_all_their_sockets_and_only_theirs():
    log = MemoryLog()
    live = hub(log)
    peers = [Peer(), Peer(), Peer()]
    connections = [connect(live, peer, trader) for peer, trader in zip(peers, "aab", strict=True)]
    for connection in connections:
        await connection.receive_text('{"op":"subscribe","channels":["account"]}')
    await settle()
    live.on_events(batch(log.add("a"), log.add("b"), log.add("a")))
    await settle()
    assert [peer.numbered() for peer in peers] == [[1, 2], [1, 2], [1]]
    # a repeated message (a catch-up overlapping pub/sub) is delivered once
    live.on_events(batch(("a", log.messages["a"][1])))
    await settle()
    assert peers[0].numbered() == [1, 2]
    for connection in connections:
        await connection.finish()


async def test_a_catch_up_that_cannot_read_the_log_closes_the_socket_1011():
    class BrokenLog(MemoryLog):
        async def after(self, trader, since, count=1000):
            raise RedisConnectionError("Redis is away")

    log = BrokenLog()
    live = hub(log)
    peer = Peer()
    connection = connect(live, peer, "z")
    await connection.receive_text('{"op":"subscribe","channels":["account"],"since":3}')
    await settle()
    assert peer.closed is not None and peer.closed[0] == 1011
    await connection.finish()


async def test_unauthenticated_sockets_never_join_a_private_feed():
    log = MemoryLog()
    live = hub(log)
    peer = Peer()
    connection = connect(live, peer, None)
    await connection.receive_text('{"op":"subscribe","channels":["quotes","account"]}')
    live.on_events(batch(log.add("anyone")))
    await settle()
    assert [f.get("type") for f in peer.frames] == ["error"]
    await connection.finish()


async def test_a_socket_found_too_slow_by_a_quote_leaves_and_the_others_still_get_it():
    log = MemoryLog()
    live = hub(log, slow_after_s=0.05)
    peers = [Peer(), Peer(reading=False), Peer()]
    connections = [connect(live, peer, trader) for peer, trader in zip(peers, "abc", strict=True)]
    for connection in connections:
        await connection.receive_text('{"op":"subscribe","channels":["account","quotes"]}')
    await settle()
    live.on_events(batch(log.add("b"), log.add("b")))  # b's sender is stuck on the first
    await asyncio.sleep(0.06)
    quote = b'{"asset":"SOL","price":150000000,"bid":150000000,"ask":150000000,"ts":1}'
    live.on_quote(quote)  # b is found too slow while the quote goes round
    await settle()
    assert peers[1].closed is not None and peers[1].closed[0] == 1013
    assert "waited" in peers[1].closed[1]
    for peer in (peers[0], peers[2]):
        assert [f.get("channel") for f in peer.frames if "seq" in f] == ["quotes"]
    for connection in connections:
        await connection.finish()


async def test_a_sign_out_closes_that_sessions_sockets_and_no_others():
    from exness.services.server.sessions import MemorySessionStore, Revocation

    store = MemorySessionStore()
    live = hub(MemoryLog())
    live.sessions = store
    store.on_revoked(live.on_revoked)
    sessions = {
        name: Session(trader, f"{trader}@x.io", 2**40, name)
        for name, trader in (("a1", "ann"), ("a2", "ann"), ("b1", "bob"), ("c1", "cy"))
    }
    peers = {name: Peer() for name in sessions}
    for name, session in sessions.items():
        await store.open(session)
        LiveConnection(live, peers[name].send, peers[name].close, no_auth, session).start()
    anonymous = Peer()
    LiveConnection(live, anonymous.send, anonymous.close, no_auth).start()

    await store.revoke(sessions["a1"])
    await settle()
    assert {name for name, peer in peers.items() if peer.closed} == {"a1"}
    assert peers["a1"].closed == (1008, "signed out: sign in again")

    await store.revoke_all("ann")
    await settle()
    assert {name for name, peer in peers.items() if peer.closed} == {"a1", "a2"}

    # revocations possibly missed (a new subscription): each socket's session is checked
    store._open.pop("b1")  # ended where this process did not hear of it
    live.on_revoked(Revocation())
    await settle()
    assert {name for name, peer in peers.items() if peer.closed} == {"a1", "a2", "b1"}
    assert anonymous.closed is None

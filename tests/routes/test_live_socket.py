"""GET /api/v1/ws in-process (Starlette's TestClient): the handshake, the protocol, bad
input, quotes and the private feed's order, catch-up and resync. The hub is the real one;
its Redis side is replaced by an in-memory log (tests/fakes/live.py) and the test publishes
to it as the subscription would. The same over real Redis and processes: tests/e2e."""

from __future__ import annotations

import json
import secrets
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from exness.adapters.idempotency import MemoryIdempotencyStore
from exness.codec.prices import encode_price_key
from exness.domain.quotes import Quote
from exness.services.server.app import create_app
from exness.services.server.auth import SessionTokens
from exness.services.server.live import LiveHub, LiveLimits
from exness.services.server.live.candles import CandleBook
from exness.services.server.metrics import Metrics
from exness.services.server.ratelimit import RateLimiter
from exness.services.server.resources import Resources
from exness.services.server.sessions import MemorySessionStore
from exness.settings import get_settings
from tests.fakes.live import MemoryLog, batch

with warnings.catch_warnings():  # it would rather have httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse

WS = "/api/v1/ws"
BACKEND = "http://platform.test"
FRONTEND = "http://frontend.test"


@dataclass
class Live:
    client: TestClient
    hub: LiveHub
    log: MemoryLog
    sessions: SessionTokens
    session_store: MemorySessionStore

    def token(self, trader: str) -> str:
        session = self.sessions.new_session(trader, f"{trader}@x.io")
        self.client.portal.call(self.session_store.open, session)  # type: ignore[union-attr]
        return self.sessions.sign(session)

    def publish(self, *events: tuple[str, str]) -> None:
        """What the subscription would hand the hub for an engine batch."""
        self.client.portal.call(self.hub.on_events, batch(*events))  # type: ignore[union-attr]

    def quote(self, asset: str, bid: int, ask: int, ts: int = 1) -> None:
        raw = encode_price_key(asset, Quote((bid + ask) // 2, ts, bid, ask))
        self.client.portal.call(self.hub.on_quote, raw)  # type: ignore[union-attr]


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    secret = secrets.token_urlsafe(40)
    settings = get_settings(
        jwt_secret=secret,
        exness_home=str(tmp_path),
        rate_limit_per_minute=0,
        backend_url=BACKEND,
        frontend_url=FRONTEND,
    )
    sessions = SessionTokens(secret)
    resources = Resources(
        settings=settings,
        engine=None,  # type: ignore[arg-type]
        quotes=None,  # type: ignore[arg-type]
        db=None,  # type: ignore[arg-type]
        sessions=sessions,
        links=None,  # type: ignore[arg-type]
        mailer=None,  # type: ignore[arg-type]
        limiter=RateLimiter(None, 0),  # type: ignore[arg-type]
        metrics=Metrics(),
        health=None,  # type: ignore[arg-type]
        session_store=MemorySessionStore(),
        idempotency=MemoryIdempotencyStore(),
    )
    app = create_app(settings, resources)
    log = MemoryLog()
    hub = LiveHub(log, CandleBook("redis://127.0.0.1:1", None, None), LiveLimits())  # type: ignore[arg-type]
    app.state.live = hub
    with TestClient(app, base_url=BACKEND) as client:
        yield Live(client, hub, log, sessions, resources.session_store)


def receive(socket: Any) -> dict:
    return json.loads(socket.receive_text())


def until(socket: Any, predicate, limit: int = 50) -> dict:
    for _ in range(limit):
        message = receive(socket)
        if predicate(message):
            return message
    raise AssertionError("the awaited message did not come")


def private(socket: Any, count: int) -> list[dict]:
    """The next `count` account-channel messages (acks skipped)."""
    found = []
    while len(found) < count:
        message = receive(socket)
        if message.get("channel") == "account" or message.get("type") == "resync":
            found.append(message)
    return found


# ---- handshake ---------------------------------------------------------------------------


def test_a_socket_opened_to_this_host_from_this_host_is_its_own(live: Live):
    # the page was served by the host the socket goes to, whatever BACKEND_URL names
    live.client.cookies.set("authToken", live.token("alice"))
    headers = {"origin": "http://localhost:8002", "host": "localhost:8002"}
    with live.client.websocket_connect(WS, headers=headers) as socket:
        socket.send_json({"op": "ping"})
        assert receive(socket) == {"type": "pong"}
    live.client.cookies.clear()
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        live.client.websocket_connect(
            WS, headers={"origin": "http://evil.test", "host": "localhost:8002"}
        ),
    ):
        pass
    assert refused.value.status_code == 403


def test_a_socket_from_another_origin_is_refused_with_403(live: Live):
    for origin in ("http://evil.test", "null", "http://platform.test:8080"):
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            live.client.websocket_connect(WS, headers={"origin": origin}),
        ):
            pass
        assert refused.value.status_code == 403
        assert refused.value.json()["success"] is False


def test_the_platforms_own_origin_and_the_frontend_sign_in_by_cookie(live: Live):
    for origin in (BACKEND, FRONTEND, "HTTP://Platform.Test:80"):
        live.client.cookies.set("authToken", live.token("alice"))
        with live.client.websocket_connect(WS, headers={"origin": origin}) as socket:
            socket.send_json({"op": "subscribe", "channels": ["account"]})
            assert receive(socket) == {"type": "subscribed", "channels": ["account"]}
            live.publish(live.log.add("alice", event="opened", orderId="o1"))
            assert private(socket, 1)[0]["orderId"] == "o1"
        live.log.messages.clear()
    live.client.cookies.clear()


def test_the_account_channel_needs_a_session_and_an_auth_frame_gives_one(live: Live):
    with live.client.websocket_connect(WS) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"]})
        assert "sign in" in receive(socket)["message"]
        socket.send_json({"op": "auth", "token": "not-a-jwt"})
        assert receive(socket)["type"] == "error"
        socket.send_json({"op": "auth", "token": live.token("bob")})
        assert receive(socket) == {"type": "authenticated"}
        socket.send_json({"op": "auth", "token": live.token("carol")})
        assert "another trader" in receive(socket)["message"]
        socket.send_json({"op": "subscribe", "channels": ["account"]})
        assert receive(socket)["type"] == "subscribed"


# ---- the private feed --------------------------------------------------------------------


def test_a_trader_gets_their_events_in_order_and_never_another_traders(live: Live):
    with live.client.websocket_connect(
        WS, headers={"authorization": f"Bearer {live.token('alice')}"}
    ) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"]})
        receive(socket)
        live.publish(
            live.log.add("alice", event="opened", orderId="a1"),
            live.log.add("bob", event="opened", orderId="b1"),
            live.log.add("alice", type="account", balance=1),
        )
        live.publish(live.log.add("alice", event="closed", reason="sl", orderId="a1"))
        got = private(socket, 3)
        assert [m["traderSeq"] for m in got] == [1, 2, 3]
        assert [m.get("event", m["type"]) for m in got] == ["opened", "account", "closed"]
        assert [m["seq"] for m in got] == [1, 2, 3]  # per socket, +1 each
        socket.send_json({"op": "ping"})
        assert receive(socket) == {"type": "pong"}  # nothing of bob's came before it


def test_since_replays_exactly_the_missed_events_then_the_live_ones(live: Live):
    for n in range(5):
        live.log.add("dave", event="opened", orderId=f"d{n + 1}")
    with live.client.websocket_connect(
        WS, headers={"authorization": f"Bearer {live.token('dave')}"}
    ) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"], "since": 2})
        receive(socket)
        live.publish(live.log.add("dave", event="opened", orderId="d6"))
        got = private(socket, 4)
        assert [m["traderSeq"] for m in got] == [3, 4, 5, 6]


def test_without_since_only_what_happens_from_now_on(live: Live):
    for n in range(3):
        live.log.add("erin", event="opened", orderId=f"e{n + 1}")
    with live.client.websocket_connect(
        WS, headers={"authorization": f"Bearer {live.token('erin')}"}
    ) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"]})
        receive(socket)
        live.publish(live.log.add("erin", event="opened", orderId="e4"))
        assert [m["traderSeq"] for m in private(socket, 1)] == [4]


def test_a_since_older_than_the_log_gets_resync_then_the_live_events(live: Live):
    for n in range(5):
        live.log.add("fay", event="opened", orderId=f"f{n + 1}")
    live.log.trim("fay", 3)
    with live.client.websocket_connect(
        WS, headers={"authorization": f"Bearer {live.token('fay')}"}
    ) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"], "since": 1})
        receive(socket)
        live.publish(live.log.add("fay", event="opened", orderId="f6"))
        got = private(socket, 2)
        assert got[0] == {"type": "resync", "channel": "account"}
        assert got[1]["traderSeq"] == 6
        # a since from the future (the platform's numbers were reset) is a resync too
        socket.send_json({"op": "subscribe", "channels": ["account"], "since": 99})
        assert private(socket, 1) == [{"type": "resync", "channel": "account"}]


def test_a_gap_in_what_pubsub_brings_is_filled_from_the_log(live: Live):
    with live.client.websocket_connect(
        WS, headers={"authorization": f"Bearer {live.token('gus')}"}
    ) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"]})
        receive(socket)
        live.publish(live.log.add("gus", event="opened", orderId="g1"))
        live.log.add("gus", event="opened", orderId="g2")  # lost on the way
        live.publish(live.log.add("gus", event="opened", orderId="g3"))
        assert [m["orderId"] for m in private(socket, 3)] == ["g1", "g2", "g3"]
        # and a subscription that comes back catches up whatever it missed meanwhile
        live.log.add("gus", event="opened", orderId="g4")
        live.client.portal.call(live.hub.on_subscribed)  # type: ignore[union-attr]
        assert [m["orderId"] for m in private(socket, 1)] == ["g4"]


# ---- quotes --------------------------------------------------------------------------------


def test_quotes_start_with_the_latest_and_a_burst_arrives_coalesced_latest_last(live: Live):
    live.quote("SOL", 149_990_000, 150_010_000)
    with live.client.websocket_connect(WS) as socket:
        socket.send_json({"op": "subscribe", "channels": ["quotes"]})
        assert receive(socket)["type"] == "subscribed"
        first = receive(socket)
        assert first == {
            "seq": 1,
            "channel": "quotes",
            "asset": "SOL",
            "bid": 149.99,
            "ask": 150.01,
            "price": 150.0,
            "ts": 1,
        }
        started = time.monotonic()
        for n in range(100):
            live.quote("SOL", 150_000_000 + n, 150_000_000 + n, ts=2 + n)
        got = [receive(socket)]
        while got[-1]["ts"] != 101:
            got.append(receive(socket))
        assert time.monotonic() - started < 1.0
        assert len(got) <= 3  # at most one per 100 ms: the burst collapses
        assert [m["seq"] for m in got] == list(range(2, 2 + len(got)))


def test_unsubscribing_stops_the_channel(live: Live):
    with live.client.websocket_connect(WS) as socket:
        socket.send_json({"op": "subscribe", "channels": ["quotes"]})
        receive(socket)
        socket.send_json({"op": "unsubscribe", "channels": ["quotes"]})
        assert receive(socket) == {"type": "unsubscribed", "channels": ["quotes"]}
        live.quote("ETH", 3_000_000_000, 3_000_000_000)
        socket.send_json({"op": "ping"})
        assert receive(socket) == {"type": "pong"}


def test_unsubscribing_from_the_account_stops_its_events(live: Live):
    with live.client.websocket_connect(
        WS, headers={"authorization": f"Bearer {live.token('hal')}"}
    ) as socket:
        socket.send_json({"op": "subscribe", "channels": ["account"]})
        receive(socket)
        live.publish(live.log.add("hal", event="opened", orderId="h1"))
        assert private(socket, 1)[0]["orderId"] == "h1"
        socket.send_json({"op": "unsubscribe", "channels": ["account"]})
        assert receive(socket)["type"] == "unsubscribed"
        live.publish(live.log.add("hal", event="opened", orderId="h2"))
        socket.send_json({"op": "ping"})
        assert receive(socket) == {"type": "pong"}
        # and back, from where it left off
        socket.send_json({"op": "subscribe", "channels": ["account"], "since": 1})
        receive(socket)
        assert private(socket, 1)[0]["orderId"] == "h2"


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("not json", "JSON object"),
        ("[1, 2]", "JSON object"),
        ('{"op": "dance"}', "unknown op"),
        ('{"op": "subscribe", "channels": ["news"]}', "unknown channel"),
        ('{"op": "subscribe", "channels": ["candles:DOGE:1m"]}', "unknown asset"),
        ('{"op": "subscribe", "channels": ["candles:SOL:7m"]}', "unknown interval"),
        ('{"op": "subscribe", "channels": []}', "non-empty list"),
        ('{"op": "subscribe", "channels": "quotes"}', "non-empty list"),
        ('{"op": "subscribe", "channels": ["quotes"], "since": -1}', "since"),
        ('{"op": "subscribe", "channels": ["quotes"], "since": 5}', "account"),
        ('{"op": "auth"}', "token"),
    ],
)
def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(live: Live, frame: str, says: str):
    with live.client.websocket_connect(WS) as socket:
        socket.send_text(frame)
        answer = receive(socket)
        assert answer["type"] == "error" and says in answer["message"], answer
        socket.send_json({"op": "ping"})
        assert receive(socket) == {"type": "pong"}


def test_a_binary_frame_gets_an_error(live: Live):
    with live.client.websocket_connect(WS) as socket:
        socket.send_bytes(b'{"op":"ping"}')
        assert "binary" in receive(socket)["message"]


def test_an_oversized_frame_closes_the_socket_with_1009(live: Live):
    with live.client.websocket_connect(WS) as socket:
        socket.send_text('{"op":"ping","pad":"' + "x" * 70_000 + '"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(socket)
        assert closed.value.code == 1009


def test_a_flood_of_bad_frames_closes_the_socket_with_1008(live: Live):
    with live.client.websocket_connect(WS) as socket:
        for _ in range(30):
            socket.send_text("garbage")
        errors = 0
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                assert receive(socket)["type"] == "error"
                errors += 1
        assert closed.value.code == 1008 and 5 <= errors <= 11
        # the server is fine: another socket works
    with live.client.websocket_connect(WS) as socket:
        socket.send_json({"op": "ping"})
        assert receive(socket) == {"type": "pong"}
    assert live.client.get("/api/v1/ws").status_code in (400, 404, 405)

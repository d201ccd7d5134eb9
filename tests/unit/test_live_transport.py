"""uvicorn's WebSocket protocol as we extend it (services/server/live/transport.py), in a
real uvicorn on a local port: frames written at once by the hub (`ready`/`write`) and by a
socket's task (SEND_MANY) arrive whole and in order; the frames we build are byte for byte
the ones the websockets library builds; and the uvicorn attributes we rely on still exist."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
import uvicorn
import websockets
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

from exness.services.server.live.transport import SEND_MANY, LiveWebSocketProtocol, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_our_text_frames_are_the_websockets_librarys(size):
    payload = b"x" * size
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


def test_the_uvicorn_attributes_we_use_exist():
    for name in ("send", "handle_connect", "connection_made", "keepalive_timeout"):
        assert callable(getattr(WebSocketsSansIOProtocol, name))
    source = WebSocketsSansIOProtocol.__init__.__code__.co_names
    for name in ("writable", "close_sent", "handshake_complete", "initial_response", "queue"):
        assert name in source, name


async def app(scope, receive, send):
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    direct = scope["extensions"][SEND_MANY]
    assert direct["ready"]()
    assert direct["write"](["1", "2"])  # the hub's way: at once, no await
    await send({"type": SEND_MANY, "texts": ["3", "4", "x" * 70_000]})  # a socket task's way
    assert direct["write"](["5"])
    while (await receive())["type"] != "websocket.disconnect":
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_frames_written_by_the_hub_and_by_a_task_arrive_whole_and_in_order():
    port = free_port()
    config = uvicorn.Config(
        app, port=port, ws=LiveWebSocketProtocol, ws_per_message_deflate=False, log_level="error"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/", compression=None, max_size=None
        ) as client:
            received = [await asyncio.wait_for(client.recv(), 5) for _ in range(5)]
            assert await asyncio.wait_for(client.recv(), 5) == "5"
        assert received == ["1", "2", "3", "4", "x" * 70_000]
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving

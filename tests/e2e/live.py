"""Clients of GET /api/v1/ws for the end-to-end tests and the benchmark.

- `LiveClient`: a well-behaved client (the `websockets` library, answering pings), reading
  every frame as it comes in a task of its own and keeping it with its arrival time.
- `RawSocket`: a client by hand on a plain TCP socket, for the peers a library hides: one
  that stops reading (a small receive buffer, nothing read) and one that never answers pings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

__all__ = ["LiveClient", "RawSocket", "trader_id", "ws_url"]


def ws_url(api: str) -> str:
    return api.replace("http://", "ws://", 1) + "/api/v1/ws"


def trader_id(token: str) -> str:
    """The trader a session token names (its `sub`), read without checking the signature."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


class LiveClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.messages: list[dict[str, Any]] = []
        self.closed: ConnectionClosed | None = None
        self._news = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        api: str,
        token: str | None = None,
        cookie: str | None = None,
        origin: str | None = None,
        **options: Any,
    ) -> LiveClient:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["Cookie"] = f"authToken={cookie}"
        connection = await websockets.connect(
            ws_url(api),
            additional_headers=headers,
            origin=origin,  # type: ignore[arg-type]
            open_timeout=10,
            compression=None,
            **options,
        )
        return cls(connection)

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                message = json.loads(raw)
                message["_at"] = time.time()
                self.messages.append(message)
                self._news.set()
        except ConnectionClosed as closed:
            self.closed = closed
        finally:
            self.closed = self.closed or ConnectionClosed(None, None)
            self._news.set()

    async def send(self, **frame: Any) -> None:
        await self.connection.send(json.dumps(frame))

    async def subscribe(self, *channels: str, since: int | None = None) -> None:
        frame: dict[str, Any] = {"op": "subscribe", "channels": list(channels)}
        if since is not None:
            frame["since"] = since
        start = len(self.messages)
        await self.send(**frame)
        await self.wait_for(lambda m: m.get("type") == "subscribed", start=start)

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 15,
        start: int = 0,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            if self.closed is not None:
                raise AssertionError(f"the socket closed ({self.closed}) before the message came")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; last messages: {self.messages[-5:]}")
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), remaining)

    async def wait_closed(self, timeout: float = 15) -> ConnectionClosed:
        deadline = time.monotonic() + timeout
        while self.closed is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the socket did not close")
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), remaining)
        return self.closed

    def private(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("channel") == "account"]

    def orders(self) -> list[dict[str, Any]]:
        return [m for m in self.private() if m.get("type") == "order"]

    def last_trader_seq(self) -> int | None:
        numbers = [m["traderSeq"] for m in self.private()]
        return numbers[-1] if numbers else None

    async def close(self) -> None:
        await self.connection.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class RawSocket:
    """A WebSocket client by hand: the handshake, masked text frames out, frames in — only
    when the test reads them."""

    def __init__(self, api: str, receive_buffer: int | None = None, **headers: str) -> None:
        host, port = api.removeprefix("http://").split(":")
        self.sock = socket.socket()
        if receive_buffer is not None:  # before connecting, so the window starts small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /api/v1/ws HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buffer = b""
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the server closed the connection")
        return data

    def send(self, **frame: Any) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _need(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._buffer += self._recv()
        taken, self._buffer = self._buffer[:count], self._buffer[count:]
        return taken

    def frame(self) -> tuple[int, bytes]:
        """The next frame: (opcode, payload)."""
        first, second = self._need(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._need(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._need(8))[0]
        return first & 0x0F, self._need(length)

    def until_closed(self, timeout: float = 30) -> tuple[int | None, str, int]:
        """Read to the end: the close frame's code and reason (None: no close frame, the
        connection just ended) and how many data frames came before it."""
        self.sock.settimeout(timeout)
        frames = 0
        try:
            while True:
                opcode, payload = self.frame()
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    return code, payload[2:].decode(errors="replace"), frames
                if opcode in (0x1, 0x2):
                    frames += 1
        except (EOFError, ConnectionResetError):
            return None, "", frames

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

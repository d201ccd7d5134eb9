"""uvicorn's WebSocket protocol, for peers that stop reading (SPEC §8 "slow clients"), and
for many small frames.

Frames ready together go out in one write (`SEND_MANY`): a write is a system call, and at
a thousand sockets it was the largest single cost of a quote (py-spy: 27 % of a server
worker, one `write` per frame). And the hub may write without a task switch at all: the
extension also offers `ready()` and `write(texts)`, synchronous, for a socket whose transport
takes data now (`DirectWriter`, live/connection.py); a quote then reaches a thousand sockets
in one pass of the hub instead of a thousand task wake-ups, each through the ASGI send chain.

uvicorn waits for its transport to drain before it writes any frame, the close frame too; a
peer that no longer reads never lets it drain, so a socket the server closes for being too
slow would never get its close frame, and the connection (with its buffer) would stay until
the peer read again. Here a close frame is written at once, behind what is already
buffered, so a peer that reads later learns why (1013 and the reason); and a closing
connection, or one whose keepalive ping went unanswered, is aborted after `ABORT_AFTER_S` if
the peer still has not read to the end. And the kernel's send buffer of a socket is fixed at
SEND_BUFFER_BYTES (Linux doubles it) rather than left to grow to megabytes: a peer that stops
reading holds that much of the server's memory at most, and the server notices the stall
(its sender waits, private events queue up) after that much rather than after ~3 MB, so
`WS_SLOW_AFTER_S` measures the client, not the buffers. Everything else is uvicorn's (pinned in
pyproject.toml; tests/unit/test_live_transport.py checks the attributes used here).
"""

from __future__ import annotations

import contextlib
import socket
from asyncio import BaseTransport
from typing import Any, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

__all__ = ["SEND_MANY", "LiveWebSocketProtocol", "text_frame"]

# An ASGI extension of ours: {"type": SEND_MANY, "texts": [...]} sends text frames in one
# write. The scope's "extensions" name it when the server offers it.
SEND_MANY = "exness.websocket.send_many"


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    ABORT_AFTER_S = 5.0
    SEND_BUFFER_BYTES = 128 * 1024

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app runs in a task that has not started yet
            scope["extensions"][SEND_MANY] = {"ready": self.ready, "write": self.write_texts}

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.SEND_BUFFER_BYTES)

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == SEND_MANY:
            await self._send_many(cast(dict[str, Any], message)["texts"])
            return
        if (
            message["type"] == "websocket.close"
            and self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.writable.is_set()
            and not self.transport.is_closing()
        ):
            code = message.get("code", 1000)
            reason = message.get("reason", "") or ""
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
            self.conn.send_close(code, reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.close_timer = self.loop.call_later(self.ABORT_AFTER_S, self._abort)
            return
        await super().send(message)

    async def _send_many(self, texts: list[str]) -> None:
        """Text frames, in order, in one write (one system call, not one per frame)."""
        await self.writable.wait()
        if not self.write_texts(texts):
            raise ClientDisconnected()

    def ready(self) -> bool:
        """Whether text frames written now go out without waiting (open, and the transport
        not holding back for a slow reader)."""
        return (
            self.writable.is_set()
            and not self.disconnected
            and not self.close_sent
            and self.conn.state is State.OPEN
        )

    def write_texts(self, texts: list[str]) -> bool:
        """Text frames, in order, in one write, now; False if the socket is closing or gone
        (nothing written)."""
        if self.disconnected or self.close_sent:
            return False
        conn = self.conn
        if conn.state is not State.OPEN:
            return False
        if conn.extensions:  # never with ws_per_message_deflate=False, as we run it
            for text in texts:
                conn.send_text(text.encode())
            self.transport.write(b"".join(conn.data_to_send()))
        else:  # the frames websockets would build (tested), without its per-frame objects
            self.transport.write(b"".join([text_frame(text.encode()) for text in texts]))
        return True

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self.loop.call_later(self.ABORT_AFTER_S, self._abort)

    def _abort(self) -> None:
        if not self.disconnected:
            self.transport.abort()


def text_frame(payload: bytes) -> bytes:
    """A whole, unmasked text frame (RFC 6455 §5.2), as a server sends it: FIN and the text
    opcode, then the payload's length in 7 bits, or 126 and 16 bits, or 127 and 64 bits."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload

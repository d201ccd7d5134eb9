"""A Redis pub/sub subscription whose messages are handled as their bytes arrive.

redis-py's PubSub hands each message to a task that awaits it; on a busy server that task
waits its turn behind every task made ready before it (the HTTP requests in flight), and
what it then queues for the sockets waits another turn. Here a `Subscription` is an
asyncio protocol: the replies in each read are parsed (hiredis, as redis-py's parser) and
handed to `on_message` in `data_received` itself, then `on_batch` runs once, so what
arrived together is handled together, at once. Everything else (reconnecting, pinging,
saying when the subscription is in place) is the caller's (adapters/events.py).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, cast

import hiredis
from redis.connection import parse_url

from exness.log import get_logger

__all__ = ["Subscription", "encode_command", "subscribe"]

log = get_logger(__name__)

OnMessage = Callable[[bytes, bytes], None]  # channel, data
OnBatch = Callable[[], None]

# redis-py's own reading of a Redis URL (unannotated there): host, port or path, password
_parse_url = cast(Callable[[str], dict[str, Any]], parse_url)


def encode_command(*parts: bytes) -> bytes:
    """A command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class Subscription(asyncio.Protocol):
    def __init__(self, channels: list[bytes], on_message: OnMessage, on_batch: OnBatch) -> None:
        self._on_message = on_message
        self._on_batch = on_batch
        self._reader = hiredis.Reader()
        self._waiting = set(channels)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.heard_at = self._loop.time()  # the last bytes from Redis (a pong counts)
        self.subscribed = False  # every channel confirmed
        self.lost: BaseException | str | None = None  # why the connection ended, once it has
        self.changed = asyncio.Event()  # set when `subscribed` or `lost` changes

    # ---- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's are not subclasses of asyncio.Transport)
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.heard_at = self._loop.time()
        self._reader.feed(data)
        handled = False
        try:
            while (reply := self._reader.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    self._fail(f"Redis refused: {reply}")
                    return
                if isinstance(reply, list) and len(reply) == 3:
                    kind, channel, body = reply
                    if kind == b"message":
                        self._on_message(channel, body)
                        handled = True
                    elif kind == b"subscribe":
                        self._confirmed(channel)
        except hiredis.ProtocolError as error:
            self._fail(f"not Redis's protocol: {error}")
            return
        finally:
            if handled:
                self._batch_done()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = exc or "the connection was closed"
        self.changed.set()

    # ---- for the caller ----------------------------------------------------------------------

    def send(self, *parts: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(encode_command(*parts))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # ---- inside ------------------------------------------------------------------------------

    def _confirmed(self, channel: bytes) -> None:
        self._waiting.discard(channel)
        if not self._waiting and not self.subscribed:
            self.subscribed = True
            self.changed.set()

    def _batch_done(self) -> None:
        try:
            self._on_batch()
        except Exception as error:  # the caller's bug must not end the subscription
            log.exception("pub/sub batch not handled", error=repr(error))

    def _fail(self, why: str) -> None:
        self.lost = why
        self.changed.set()
        self.close()


async def subscribe(
    url: str,
    channels: list[bytes],
    on_message: OnMessage,
    on_batch: OnBatch,
    timeout_s: float = 5.0,
) -> Subscription:
    """Connect to the Redis at `url` (redis://, rediss:// or unix://, with its password) and
    subscribe to `channels`; the subscription says when they are confirmed."""
    params = _parse_url(url)
    loop = asyncio.get_running_loop()

    def factory() -> Subscription:
        return Subscription(channels, on_message, on_batch)

    if "path" in params:
        connecting = loop.create_unix_connection(factory, params["path"])
    else:
        context = ssl.create_default_context() if url.startswith("rediss://") else None
        connecting = loop.create_connection(
            factory, params.get("host", "localhost"), params.get("port", 6379), ssl=context
        )
    _, subscription = await asyncio.wait_for(connecting, timeout_s)
    password, username = params.get("password"), params.get("username")
    if password:
        credentials = [username, password] if username else [password]
        subscription.send(b"AUTH", *(part.encode() for part in credentials))
    subscription.send(b"SUBSCRIBE", *channels)
    return subscription

"""The pub/sub protocol (adapters/pubsub.py) fed bytes as Redis sends them: messages split
across reads or many in one, each read's messages handled then one batch call, the
subscription confirmed once every channel is, and an error or garbage ending it."""

from __future__ import annotations

import asyncio

from exness.adapters.pubsub import Subscription, encode_command


def resp(*parts: bytes) -> bytes:
    return encode_command(*parts)


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def subscription() -> tuple[Subscription, list, list, Transport]:
    messages: list[tuple[bytes, bytes]] = []
    batches: list[int] = []
    sub = Subscription(
        [b"prices", b"live:events"],
        lambda channel, data: messages.append((channel, data)),
        lambda: batches.append(len(messages)),
    )
    transport = Transport()
    sub.connection_made(transport)
    return sub, messages, batches, transport


def test_commands_are_arrays_of_bulk_strings():
    assert (
        encode_command(b"SUBSCRIBE", b"a", b"") == b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$0\r\n\r\n"
    )


async def test_confirmed_once_every_channel_is_then_messages_in_order_one_batch_a_read():
    sub, messages, batches, _ = await subscription()
    sub.data_received(b"+OK\r\n" + resp(b"subscribe", b"prices", b"1")[:-3])  # AUTH, half
    assert not sub.subscribed and not sub.changed.is_set()
    sub.data_received(b"1\r\n" + resp(b"subscribe", b"live:events", b"2")[:-1])
    assert not sub.subscribed
    sub.data_received(b"\n")
    assert sub.subscribed and sub.changed.is_set()
    burst = resp(b"message", b"prices", b"q1") + resp(b"message", b"live:events", b"e1")
    sub.data_received(burst + resp(b"message", b"prices", b"q2")[:5])
    assert messages == [(b"prices", b"q1"), (b"live:events", b"e1")] and batches == [2]
    sub.data_received(resp(b"message", b"prices", b"q2")[5:] + b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
    assert messages[-1] == (b"prices", b"q2") and batches == [2, 3]
    assert sub.lost is None


async def test_an_error_reply_or_garbage_ends_the_subscription():
    sub, _, _, transport = await subscription()
    sub.data_received(b"-WRONGPASS invalid username-password pair\r\n")
    assert "WRONGPASS" in str(sub.lost) and transport.closed and sub.changed.is_set()
    sub, _, _, transport = await subscription()
    sub.data_received(b"?garbage\r\n")
    assert "protocol" in str(sub.lost) and transport.closed


async def test_a_handler_that_fails_does_not_end_it():
    sub = Subscription([b"prices"], lambda c, d: None, lambda: 1 / 0)
    sub.connection_made(Transport())
    sub.data_received(resp(b"message", b"prices", b"q"))
    assert sub.lost is None

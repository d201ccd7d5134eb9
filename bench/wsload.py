"""Load for the live-updates benchmark (bench/ws.py), in its own process: many WebSocket
clients on GET /api/v1/ws, and trades over HTTP by some of the same traders.

Every socket signs in with its trader's token (Bearer header), subscribes to `quotes` and
its own `account`, answers pings, and reads every frame. Measured:
- quote latency: when a quote frame arrives minus the feed's own time of that quote (`ts`,
  Backpack's `E`, stamped by the fake feed when it sent the quote; the same machine's clock);
- where a quote's latency goes: per quote, when the first socket got it (the pipeline: feed,
  poller, engine, pub/sub, a server's hub) and how much later the last one did (the fan-out
  over the sockets, the server's writes and this generator's reads alike);
- order-event latency: when the `opened` / `closed` event of an order arrives on its
  trader's socket minus when the HTTP answer for it arrived (0 when the event came first:
  both leave the engine in one transaction).

Why not the `websockets` library here: 1,000 sockets at ~30 quotes a second each is 30,000
frames a second, and the load generator shares the two cores with the platform it measures.
This client is an asyncio.Protocol that finds `"channel":"quotes"` and `"ts":` in the bytes
and parses JSON only for the trader's own events: a few microseconds a frame.

`python -m bench.wsload < plan.json > result.json`; see `WsPlan`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
import psutil
import uvloop

from bench.loadgen import Connection, _request, cpu_seconds

__all__ = ["WsPlan", "main"]


@dataclass
class WsPlan:
    host: str
    port: int
    seconds: float
    warmup_s: float
    socket_tokens: list[str]  # one socket each
    trade_tokens: list[str]  # one HTTP connection each (traders that also hold a socket)
    cpu_pids: list[int] = field(default_factory=list)
    connect_batch: int = 100
    quiet_s: float = 10.0  # first, the sockets alone (quotes, no trades)


@dataclass
class Tally:
    measuring: bool = False
    quiet: bool = False  # measuring quotes while no one trades
    quote_ms: list[float] = field(default_factory=list)
    quiet_quote_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    http: dict[str, list[float]] = field(default_factory=lambda: {"open": [], "close": []})
    statuses: Counter = field(default_factory=Counter)
    answered: dict[tuple[str, str], float] = field(default_factory=dict)  # (order, event) -> t
    arrived: dict[tuple[str, str], float] = field(default_factory=dict)
    # (measuring, the quote's ts) -> [its first, its last arrival's latency (ms)]
    quote_spans: dict[tuple[bool, int], list[float]] = field(default_factory=dict)
    frames: int = 0
    closes: Counter = field(default_factory=Counter)


_QUOTES = b'"channel":"quotes"'
_TS = b'"ts":'
_ACCOUNT = b'"channel":"account"'


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, 0x80 | length])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class LiveSocket(asyncio.Protocol):
    def __init__(self, host: str, token: str, tally: Tally, ready: asyncio.Future[None]) -> None:
        self.host, self.token, self.tally, self.ready = host, token, tally, ready
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /api/v1/ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {self.token}\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.open:
            head, found, rest = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = buffer
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.ready.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.open = True
            subscribe = orjson.dumps({"op": "subscribe", "channels": ["quotes", "account"]})
            assert self.transport is not None
            self.transport.write(_masked(0x1, subscribe))
            buffer = rest
        position = 0
        size = len(buffer)
        while size - position >= 2:
            second = buffer[position + 1]
            length = second & 0x7F
            start = position + 2
            if length == 126:
                if size - position < 4:
                    break
                length = struct.unpack_from("!H", buffer, start)[0]
                start += 2
            elif length == 127:
                if size - position < 10:
                    break
                length = struct.unpack_from("!Q", buffer, start)[0]
                start += 8
            if size < start + length:
                break
            self._frame(buffer[position] & 0x0F, buffer[start : start + length], now)
            position = start + length
        self.buffer = buffer[position:]

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        tally = self.tally
        if opcode == 0x1:
            tally.frames += 1
            if _QUOTES in payload[:40]:
                if tally.measuring or tally.quiet:
                    at = payload.find(_TS) + len(_TS)
                    end = payload.find(b"}", at)
                    ts = int(payload[at:end])
                    late = now * 1000 - ts / 1000
                    span = tally.quote_spans.get((tally.measuring, ts))
                    if span is None:
                        tally.quote_spans[(tally.measuring, ts)] = [late, late]
                    else:  # frames are read in the order they arrive: this one is the last yet
                        span[1] = late
                    (tally.quote_ms if tally.measuring else tally.quiet_quote_ms).append(late)
            elif _ACCOUNT in payload[:60]:
                message = orjson.loads(payload)
                if message.get("type") == "order" and message["event"] in ("opened", "closed"):
                    tally.arrived[(message["orderId"], message["event"])] = now
            elif payload.startswith(b'{"type":"subscribed"') and not self.ready.done():
                self.ready.set_result(None)
        elif opcode == 0x9 and self.transport is not None:  # ping: pong with its payload
            self.transport.write(_masked(0xA, payload))
        elif opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            tally.closes[code] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"lost before subscribing: {exc!r}"))
        elif self.open:
            self.tally.closes["lost"] += 1


async def _trader(plan: WsPlan, token: str, tally: Tally, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(plan.host, plan.port)
    connection = Connection(reader, writer)
    host = f"{plan.host}:{plan.port}"
    mine: list[str] = []
    try:
        while time.perf_counter() < deadline:
            if mine and rng.random() > 2 / 3:
                kind, event = "close", "closed"
                order = mine.pop(rng.randrange(len(mine)))
                raw = _request(
                    "POST", "/api/v1/trade/close", host, token, orjson.dumps({"orderId": order})
                )
            else:
                kind, event = "open", "opened"
                trade = {
                    "asset": rng.choice(("SOL", "ETH", "BTC")),
                    "type": rng.choice(("long", "short")),
                    "margin": 100 + rng.randrange(100),
                    "leverage": 1 + rng.randrange(20),
                    "slippage": 10_000,
                }
                raw = _request("POST", "/api/v1/trade/create", host, token, orjson.dumps(trade))
            started = time.perf_counter()
            status, answer = await connection.request(raw)
            elapsed = time.perf_counter() - started
            answered_at = time.time()
            if status == 200:
                order_id = orjson.loads(answer)["orderId"]
                if kind == "open":
                    mine.append(order_id)
                if tally.measuring:
                    tally.http[kind].append(elapsed)
                    tally.answered[(order_id, event)] = answered_at
            if tally.measuring:
                tally.statuses[f"{kind} {status}"] += 1
    finally:
        writer.close()


async def run(plan: WsPlan) -> dict:
    loop = asyncio.get_running_loop()
    tally = Tally()
    host = f"{plan.host}:{plan.port}"
    sockets: list[asyncio.Transport] = []
    started = time.perf_counter()
    for first in range(0, len(plan.socket_tokens), plan.connect_batch):
        waiting = []
        for token in plan.socket_tokens[first : first + plan.connect_batch]:
            ready: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(
                lambda token=token, ready=ready: LiveSocket(host, token, tally, ready),
                plan.host,
                plan.port,
            )
            sockets.append(transport)
            waiting.append(ready)
        await asyncio.wait_for(asyncio.gather(*waiting), 60)
    connect_s = time.perf_counter() - started

    # the sockets alone: quotes fanned out, no trades
    await asyncio.sleep(2.0)
    tally.quiet = True
    quiet_cpu_before = cpu_seconds(plan.cpu_pids)
    quiet_frames_before, quiet_from = tally.frames, time.perf_counter()
    await asyncio.sleep(plan.quiet_s)
    quiet_cpu_after = cpu_seconds(plan.cpu_pids)
    quiet_s = time.perf_counter() - quiet_from
    quiet_frames = tally.frames - quiet_frames_before
    tally.quiet = False

    deadline = time.perf_counter() + plan.warmup_s + plan.seconds
    traders = [
        asyncio.create_task(_trader(plan, token, tally, deadline, seed))
        for seed, token in enumerate(plan.trade_tokens)
    ]
    await asyncio.sleep(plan.warmup_s)
    tally.measuring = True
    measured_from = time.perf_counter()
    cpu_before = cpu_seconds(plan.cpu_pids)
    own_before = time.process_time()
    machine_before = psutil.cpu_times()
    frames_before = tally.frames
    await asyncio.gather(*traders)
    cpu_after = cpu_seconds(plan.cpu_pids)
    own_cpu = time.process_time() - own_before
    machine_after = psutil.cpu_times()
    measured = time.perf_counter() - measured_from
    tally.measuring = False
    await asyncio.sleep(1.0)  # the last events on their way
    event_ms = [
        max(0.0, (tally.arrived[key] - at) * 1000)
        for key, at in tally.answered.items()
        if key in tally.arrived
    ]
    missing = sum(1 for key in tally.answered if key not in tally.arrived)
    open_sockets = sum(1 for transport in sockets if not transport.is_closing())
    for transport in sockets:
        transport.close()
    return {
        "seconds": measured,
        "connect_s": connect_s,
        "sockets": len(sockets),
        "sockets_open_at_end": open_sockets,
        "frames_per_s": (tally.frames - frames_before) / measured,
        "quote_ms": tally.quote_ms,
        "quiet_quote_ms": tally.quiet_quote_ms,
        "quiet_frames_per_s": quiet_frames / quiet_s,
        **_spans(tally.quote_spans),
        "quiet_cpu_seconds_per_s": sum(
            quiet_cpu_after[pid] - quiet_cpu_before[pid]
            for pid in quiet_cpu_after.keys() & quiet_cpu_before.keys()
        )
        / quiet_s,
        "event_ms": event_ms,
        "events_missing": missing,
        "http": tally.http,
        "statuses": dict(tally.statuses),
        "closes": {str(code): count for code, count in tally.closes.items()},
        "loadgen_cpu_seconds": own_cpu,
        "machine_before": machine_before._asdict(),
        "machine_after": machine_after._asdict(),
        "cpu_seconds": sum(
            cpu_after[pid] - cpu_before[pid] for pid in cpu_after.keys() & cpu_before.keys()
        ),
    }


def _spans(spans: dict[tuple[bool, int], list[float]]) -> dict[str, list[float]]:
    """Each quote's first arrival and first-to-last spread (ms), trading and quiet apart."""
    figures: dict[str, list[float]] = {}
    for measuring, prefix in ((True, "quote"), (False, "quiet_quote")):
        chosen = [span for (phase, _), span in spans.items() if phase is measuring]
        figures[f"{prefix}_first_ms"] = [first for first, _ in chosen]
        figures[f"{prefix}_spread_ms"] = [last - first for first, last in chosen]
    return figures


def main() -> None:
    plan = WsPlan(**orjson.loads(sys.stdin.buffer.read()))
    result = uvloop.run(run(plan))
    sys.stdout.buffer.write(orjson.dumps(result))


if __name__ == "__main__":
    main()

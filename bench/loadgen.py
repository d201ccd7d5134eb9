"""A small HTTP/1.1 load generator: keep-alive connections, one request in flight each.

Why not an HTTP client library: the load generator shares the 2 cores with the platform it
measures, so every microsecond it spends is taken from the server. This one writes
pre-built request bytes and reads only the status line, Content-Length and body, on
uvloop: a few microseconds per request.

Run in its own process: `python -m bench.loadgen < plan.json > result.json`, where the plan
says the host, port, duration, the connections and, per connection, the bearer token and
the mix (see `Plan`). The result holds per-kind counts, statuses and latencies.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
import psutil
import uvloop

__all__ = ["Plan", "main", "run"]


@dataclass
class Plan:
    host: str
    port: int
    seconds: float
    warmup_s: float
    mode: str  # "trades" (open/close mix) or "health"
    tokens: list[str]  # one connection per token
    open_share: float = 2 / 3  # in "trades": the rest close one of the connection's positions
    idempotency: bool = False  # in "trades": every open and close with a new Idempotency-Key
    cpu_pids: list[int] = field(default_factory=list)  # whose CPU time the window is charged


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process still alive (read from /proc by psutil)."""
    times = {}
    for pid in pids:
        try:
            used = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        times[pid] = used.user + used.system
    return times


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    measuring: bool = False


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        body = await self.reader.readexactly(length) if length else b""
        return status, body


def _request(
    method: str, path: str, host: str, token: str | None, body: bytes = b"", key: str = ""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if key:
        lines.append(f"Idempotency-Key: {key}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _client(plan: Plan, token: str, tally: Tally, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(plan.host, plan.port)
    connection = Connection(reader, writer)
    host = f"{plan.host}:{plan.port}"
    health = _request("GET", "/health", host, None)
    open_bodies = [
        orjson.dumps(
            {
                "asset": asset,
                "type": side,
                "margin": 100 + n,
                "leverage": 1 + n % 20,
                "slippage": 10_000,
            }
        )
        for n, (asset, side) in enumerate(
            [(a, s) for a in ("SOL", "ETH", "BTC") for s in ("long", "short")] * 4
        )
    ]
    open_requests = [_request("POST", "/api/v1/trade/create", host, token, b) for b in open_bodies]
    mine: list[str] = []
    keys = (f"{seed}-{n}" for n in itertools.count()) if plan.idempotency else None
    try:
        while time.perf_counter() < deadline:
            if plan.mode == "health":
                kind, raw = "health", health
            elif mine and rng.random() > plan.open_share:
                kind = "close"
                body = orjson.dumps({"orderId": mine.pop(rng.randrange(len(mine)))})
                key = next(keys) if keys else ""
                raw = _request("POST", "/api/v1/trade/close", host, token, body, key)
            elif keys:
                kind, body = "open", open_bodies[rng.randrange(len(open_bodies))]
                raw = _request("POST", "/api/v1/trade/create", host, token, body, next(keys))
            else:
                kind, raw = "open", open_requests[rng.randrange(len(open_requests))]
            started = time.perf_counter()
            status, body = await connection.request(raw)
            elapsed = time.perf_counter() - started
            if kind == "open" and status == 200:
                mine.append(orjson.loads(body)["orderId"])
            if tally.measuring:
                tally.statuses[f"{kind} {status}"] += 1
                if status == 200:
                    tally.latencies[kind].append(elapsed)
    finally:
        writer.close()


async def run(plan: Plan) -> dict:
    tally = Tally()
    start = time.perf_counter()
    deadline = start + plan.warmup_s + plan.seconds
    clients = [
        asyncio.create_task(_client(plan, token, tally, deadline, seed))
        for seed, token in enumerate(plan.tokens)
    ]
    await asyncio.sleep(plan.warmup_s)
    tally.measuring = True
    measured_from = time.perf_counter()
    cpu_before = cpu_seconds(plan.cpu_pids)
    await asyncio.gather(*clients)
    cpu_after = cpu_seconds(plan.cpu_pids)
    measured = time.perf_counter() - measured_from
    alive = cpu_after.keys() & cpu_before.keys()
    used = {str(pid): cpu_after[pid] - cpu_before[pid] for pid in alive}  # JSON keys are str
    return {
        "seconds": measured,
        # CPU the listed processes spent in the measured window (those alive at both ends)
        "cpu_seconds": sum(used.values()),
        "cpu_by_pid": used,
        "statuses": dict(tally.statuses),
        "latencies": {kind: samples for kind, samples in tally.latencies.items()},
    }


def run_generator(module: str, plan: object) -> dict:
    """Run a load generator (`python -m <module>`) in its own process with `plan` (a
    dataclass) on stdin; its result. The result comes back through a file, not a pipe:
    results of several MB read from a pipe came back cut short now and then."""
    with tempfile.TemporaryFile() as out:
        done = subprocess.run(
            [sys.executable, "-m", module],
            input=orjson.dumps(plan.__dict__),
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{module} failed:\n{done.stderr.decode()[-3000:]}")
        out.seek(0)
        return orjson.loads(out.read())


def main() -> None:
    plan = Plan(**orjson.loads(sys.stdin.buffer.read()))
    result = uvloop.run(run(plan))
    sys.stdout.buffer.write(orjson.dumps(result))


if __name__ == "__main__":
    main()

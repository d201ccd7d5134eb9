"""A local WebSocket server that speaks Backpack's public stream protocol (SPEC §6).

In process (tests)::

    async with FakeBackpack() as backpack:          # 127.0.0.1, a free port
        client = BackpackClient(backpack.url)
        ...
        await backpack.wait_subscribed()             # a live connection on all three markets
        await backpack.publish("SOL_USDC", "150.10", "150.12")
        await backpack.publish("BTC_USDC", "60000.1", "60000.3", E=..., numbers_as_strings=True)
        await backpack.send_raw("junk")              # any frame, to every open connection
        await backpack.drop_connections()            # close them all (abrupt=True: no close frame)
        backpack.freeze()                            # stop reading: a hung peer, pings unanswered
        backpack.refuse = True                       # answer new handshakes with HTTP 503
        latencies = await backpack.ping()            # WS ping each connection, wait for the pongs

It answers `{"method":"SUBSCRIBE","params":[...],"id"?:..}`: bookTicker streams of the known
markets are subscribed and acknowledged with `{"id":<id or null>,"result":null}`; if any
stream is unknown it answers `{"id":null,"error":{"code":4006,"message":"Invalid stream"}}`
(the valid ones of the request are still subscribed). UNSUBSCRIBE is answered alike. Every
request and each connection's subscriptions are recorded in `connections`.

As a process (end-to-end tests drive the real services against it)::

    python -m tests.fakes.backpack_server [--host 127.0.0.1] [--port 0] [--control-port 0]
                                          [--ping-interval SECONDS]

Once serving it prints one JSON line on stdout: `{"url": "ws://127.0.0.1:P", "control":
"http://127.0.0.1:C"}` (give it to the poller as BACKPACK_WS_URL). It stops on SIGTERM or
SIGINT. The control port speaks plain HTTP/1.1 with JSON bodies, one request per connection:

    POST /publish  {"market":"SOL_USDC","bid":"150.1","ask":"150.2",
                    "E"?:int, "T"?:int, "u"?:int, "numbers_as_strings"?:bool}
                                        -> {"sent": <connections it went to>}
    POST /raw      {"text": "<any frame>"}             -> {"sent": n}
    POST /drop     {"abrupt"?: bool}                   -> {"dropped": n}
    POST /refuse   {"refuse": bool}                    -> {"refuse": bool}
    POST /freeze                                       -> {"frozen": n}
    POST /ping     {"timeout"?: seconds}               -> {"pongs": [latency_s, ...]}
    GET  /state                                        -> {"url", "refuse", "accepted",
                    "connections": [{"id", "open", "subscriptions": [...], "requests": n}]}

for example `curl -d '{"market":"SOL_USDC","bid":"150.1","ask":"150.2"}' $CONTROL/publish`.
An unknown route is 404 and a bad body 400, each with `{"error": "..."}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["MARKETS", "FakeBackpack", "FakeConnection", "main"]

MARKETS = ("SOL_USDC", "ETH_USDC", "BTC_USDC")
INVALID_STREAM = {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}


@dataclass
class FakeConnection:
    id: int
    ws: ServerConnection
    subscriptions: set[str] = field(default_factory=set)  # stream names, "bookTicker.SOL_USDC"
    requests: list[Any] = field(default_factory=list)  # every frame received, parsed if JSON
    open: bool = True
    frozen: bool = False

    def subscribed(self, market: str) -> bool:
        return f"bookTicker.{market}" in self.subscriptions


class FakeBackpack:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        markets: Iterable[str] = MARKETS,
        ping_interval: float | None = None,  # Backpack pings every 60 s; tests ping explicitly
    ) -> None:
        self.host = host
        self.port = port
        self.markets = tuple(markets)
        self.ping_interval = ping_interval
        self.connections: list[FakeConnection] = []
        self.refuse = False
        self._server: Server | None = None
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)

    # ---- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> FakeBackpack:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            ping_interval=self.ping_interval,
            close_timeout=1,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            for connection in self.open_connections:
                if connection.frozen:  # it would never read the closing handshake
                    connection.ws.transport.abort()
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeBackpack:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- what the tests do ---------------------------------------------------------------------

    @property
    def open_connections(self) -> list[FakeConnection]:
        return [connection for connection in self.connections if connection.open]

    @staticmethod
    def book_ticker(
        market: str,
        bid: str | Decimal | int,
        ask: str | Decimal | int,
        *,
        E: int | None = None,
        T: int | None = None,
        u: int | None = None,
        numbers_as_strings: bool = False,
        bid_qty: str = "12.5",
        ask_qty: str = "7.25",
    ) -> dict[str, Any]:
        event_time = E if E is not None else time.time_ns() // 1000
        engine_time = T if T is not None else event_time - 150
        update_id = u if u is not None else 1
        convert = str if numbers_as_strings else (lambda value: value)
        return {
            "stream": f"bookTicker.{market}",
            "data": {
                "e": "bookTicker",
                "E": convert(event_time),
                "s": market,
                "a": str(ask),
                "A": ask_qty,
                "b": str(bid),
                "B": bid_qty,
                "u": convert(update_id),
                "T": convert(engine_time),
            },
        }

    async def publish(
        self,
        market: str,
        bid: str | Decimal | int,
        ask: str | Decimal | int,
        E: int | None = None,
        numbers_as_strings: bool = False,
        *,
        T: int | None = None,
        u: int | None = None,
    ) -> int:
        """Send a bookTicker update to every connection subscribed to `market`; how many."""
        frame = orjson.dumps(
            self.book_ticker(
                market,
                bid,
                ask,
                E=E,
                T=T,
                u=u if u is not None else next(self._update_ids),
                numbers_as_strings=numbers_as_strings,
            )
        ).decode()
        targets = [c for c in self.open_connections if c.subscribed(market)]
        return await self._send(targets, frame)

    async def send_raw(self, frame: str | bytes) -> int:
        """Any frame (text for str, binary for bytes) to every open connection."""
        return await self._send(self.open_connections, frame)

    async def drop_connections(self, abrupt: bool = False, code: int = 1001) -> int:
        """Close every open connection: with a close frame, or abruptly (a TCP reset)."""
        targets = self.open_connections
        for connection in targets:
            connection.open = False
            if abrupt:
                connection.ws.transport.abort()
            else:
                await connection.ws.close(code, "going away")
        return len(targets)

    def freeze(self) -> int:
        """Stop reading from every open connection, like a hung peer: pings go unanswered."""
        targets = self.open_connections
        for connection in targets:
            connection.ws.transport.pause_reading()
            connection.frozen = True
        return len(targets)

    async def ping(self, timeout: float = 2.0) -> list[float]:
        """WS-ping every open connection; the round-trip times, once every pong came back."""
        waiters = [await connection.ws.ping() for connection in self.open_connections]
        async with asyncio.timeout(timeout):
            return list(await asyncio.gather(*waiters))

    async def wait_subscribed(
        self, markets: Iterable[str] = MARKETS, *, after: int = 0, timeout: float = 5.0
    ) -> FakeConnection:
        """The first open connection (with id > `after`) subscribed to all of `markets`."""
        wanted = tuple(markets)
        async with asyncio.timeout(timeout):
            while True:
                for connection in self.open_connections:
                    if connection.id > after and all(map(connection.subscribed, wanted)):
                        return connection
                await asyncio.sleep(0.005)

    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "refuse": self.refuse,
            "accepted": len(self.connections),
            "connections": [
                {
                    "id": c.id,
                    "open": c.open,
                    "subscriptions": sorted(c.subscriptions),
                    "requests": len(c.requests),
                }
                for c in self.connections
            ],
        }

    # ---- the protocol --------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "feed unavailable\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        connection = FakeConnection(next(self._ids), ws)
        self.connections.append(connection)
        try:
            async for frame in ws:
                await self._answer(connection, frame)
        except ConnectionClosed:
            pass
        finally:
            connection.open = False

    async def _answer(self, connection: FakeConnection, frame: str | bytes) -> None:
        try:
            request = orjson.loads(frame)
        except orjson.JSONDecodeError:
            connection.requests.append(frame)
            await connection.ws.send(orjson.dumps(_error(None, 4000, "Invalid JSON")).decode())
            return
        connection.requests.append(request)
        method = request.get("method") if isinstance(request, dict) else None
        params = request.get("params") if isinstance(request, dict) else None
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            await connection.ws.send(orjson.dumps(_error(None, 4000, "Invalid method")).decode())
            return
        valid = [p for p in params if isinstance(p, str) and self._valid_stream(p)]
        if method == "SUBSCRIBE":
            connection.subscriptions.update(valid)
        else:
            connection.subscriptions.difference_update(valid)
        if len(valid) < len(params):
            answer: dict[str, Any] = INVALID_STREAM
        else:
            answer = {"id": request.get("id"), "result": None}
        await connection.ws.send(orjson.dumps(answer).decode())

    def _valid_stream(self, stream: str) -> bool:
        kind, _, market = stream.partition(".")
        return kind == "bookTicker" and market in self.markets

    @staticmethod
    async def _send(targets: list[FakeConnection], frame: str | bytes) -> int:
        sent = 0
        for connection in targets:
            try:
                await connection.ws.send(frame)
                sent += 1
            except ConnectionClosed:
                connection.open = False
        return sent


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"id": request_id, "error": {"code": code, "message": message}}


# ---- as a process: the control port ----------------------------------------------------------


class ControlServer:
    """The HTTP control interface of the module docstring, over plain asyncio streams."""

    def __init__(self, backpack: FakeBackpack, host: str = "127.0.0.1", port: int = 0) -> None:
        self.backpack = backpack
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                method, path, body = await _read_request(reader)
                status, answer = await self.route(method, path, body)
        except KeyError as error:
            status, answer = 400, {"error": f"missing field {error}"}
        except (ValueError, TypeError) as error:
            status, answer = 400, {"error": str(error)}
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        payload = orjson.dumps(answer)
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        backpack = self.backpack
        if (method, path) == ("GET", "/state"):
            return 200, backpack.state()
        if method != "POST":
            return 404, {"error": f"no route {method} {path}"}
        if path == "/publish":
            sent = await backpack.publish(
                str(body["market"]),
                str(body["bid"]),
                str(body["ask"]),
                E=body.get("E"),
                numbers_as_strings=bool(body.get("numbers_as_strings", False)),
                T=body.get("T"),
                u=body.get("u"),
            )
            return 200, {"sent": sent}
        if path == "/raw":
            return 200, {"sent": await backpack.send_raw(str(body["text"]))}
        if path == "/drop":
            return 200, {"dropped": await backpack.drop_connections(bool(body.get("abrupt")))}
        if path == "/freeze":
            return 200, {"frozen": backpack.freeze()}
        if path == "/refuse":
            backpack.refuse = bool(body.get("refuse", True))
            return 200, {"refuse": backpack.refuse}
        if path == "/ping":
            try:
                pongs = await backpack.ping(float(body.get("timeout", 2.0)))
            except TimeoutError:
                return 504, {"error": "a pong did not come back in time"}
            return 200, {"pongs": pongs}
        return 404, {"error": f"no route {method} {path}"}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, Any]]:
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) < 2:
        raise ValueError("bad request line")
    method, path = request_line[0].upper(), request_line[1].split("?", 1)[0]
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length > 1_000_000:
        raise ValueError("body too large")
    raw = await reader.readexactly(length) if length else b""
    body = orjson.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return method, path, body


async def _serve_forever(args: argparse.Namespace) -> None:
    backpack = FakeBackpack(args.host, args.port, ping_interval=args.ping_interval)
    await backpack.start()
    control = ControlServer(backpack, args.host, args.control_port)
    await control.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(orjson.dumps({"url": backpack.url, "control": control.url}).decode() + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await control.stop()
        await backpack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Backpack WebSocket feed, for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="WebSocket port (0: any free one)")
    parser.add_argument("--control-port", type=int, default=0, help="HTTP control port")
    parser.add_argument("--ping-interval", type=float, default=None, help="server pings, s")
    asyncio.run(_serve_forever(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

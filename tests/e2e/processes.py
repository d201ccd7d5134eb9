"""The platform's services as real processes, for end-to-end tests and benchmarks.

Each service is `python -m exness <name>` with its own environment and a log file; a
test can stop it (SIGTERM), kill it (SIGKILL) and start it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Service", "Services", "free_port", "wait_until"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.02):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Service:
    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, argv: list[str] | None = None
    ):
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.argv = argv or [sys.executable, "-m", "exness", name]
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open by the child
        log.write(f"\n---- start #{self.starts} ----\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def signal(self, signum: int) -> None:
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up, like a crash."""
        if self.running:
            assert self.process is not None
            self.signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20.0) -> int | None:
        if not self.running:
            return None if self.process is None else self.process.returncode
        assert self.process is not None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not stop within {timeout} s") from None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Services:
    """A set of services sharing one environment."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.by_name: dict[str, Service] = {}

    def add(self, name: str, argv: list[str] | None = None) -> Service:
        service = Service(name, self.env, self.log_dir, argv)
        self.by_name[name] = service
        return service

    def __getitem__(self, name: str) -> Service:
        return self.by_name[name]

    def start(self, *names: str) -> None:
        for name in names:
            (self.by_name.get(name) or self.add(name)).start()

    def stop_all(self) -> None:
        for service in reversed(list(self.by_name.values())):
            with contextlib.suppress(AssertionError):
                service.stop()

    def report(self) -> str:
        return "\n".join(
            f"==== {s.name} (starts {s.starts}) ====\n{s.log_tail()}" for s in self.by_name.values()
        )

"""`exness up` (= `make run`) on a machine with nothing configured: embedded Valkey and
PostgreSQL under EXNESS_HOME, the four services, prices flowing into the stores, a clean
stop, and the data still there on the next start (issue #3)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from exness.adapters.embedded import EmbeddedValkey
from tests.e2e.processes import Service, free_port, wait_until

pytestmark = pytest.mark.e2e

CONFIGURED = ("REDIS_URL", "DATABASE_URL", "SNAPSHOT_URL", "JWT_SECRET", "PORT", "PRICE_FEED")


def healthy(api: str) -> dict | None:
    try:
        report = httpx.get(f"{api}/health", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    return report if report.get("status") == "ok" else None


def candles(api: str) -> list:
    try:
        return httpx.get(f"{api}/api/v1/klines?asset=SOL&interval=1m", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return []


def assert_background_work_yields(home: Path, up_pid: int) -> None:
    """BACKGROUND_NICE (5): the DB processor and the embedded PostgreSQL (its backends too)
    run at a lower CPU priority than the trading path."""
    base = os.nice(0)
    services = {
        " ".join(child.cmdline()[-1:]): child.nice()
        for child in psutil.Process(up_pid).children()
        if "exness" in " ".join(child.cmdline())
    }
    assert services["dbprocessor"] == base + 5, services
    assert services["engine"] == services["server"] == services["poller"] == base, services
    postmaster = psutil.Process(int((home / "postgres" / "postmaster.pid").read_text().split()[0]))
    backends = postmaster.children()
    assert backends and postmaster.nice() >= base + 5
    assert all(backend.nice() >= base + 5 for backend in backends), backends


def test_up_runs_everything_on_embedded_stores_and_keeps_the_data(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    env.update({"PRICE_FEED": "sim", "EXNESS_HOME": str(tmp_path / "home"), "PORT": str(port)})
    api = f"http://127.0.0.1:{port}"
    up = Service("up", env, tmp_path, argv=[sys.executable, "-m", "exness", "up"])
    try:
        up.start()
        report = wait_until(lambda: healthy(api), 120, "a healthy platform", every=0.25)
        assert report["feed"]["source"] == "sim" and report["feed"]["connected"]
        first = wait_until(lambda: candles(api), 30, "candles from the recorded prices")
        assert first[0]["open"]
        assert (tmp_path / "home" / "jwt_secret").exists()
        assert_background_work_yields(tmp_path / "home", up.process.pid)
        assert up.stop(timeout=60) == 0
        valkey = EmbeddedValkey(tmp_path / "home" / "valkey")
        assert valkey.running_pid() is None, "the embedded Valkey outlived `exness up`"
        assert not (tmp_path / "home" / "postgres" / "postmaster.pid").exists()

        up.start()  # the same home: the same stores, the same data
        wait_until(lambda: healthy(api), 120, "a healthy platform again", every=0.25)
        again = candles(api)
        assert again and again[0]["start"] == first[0]["start"]
    finally:
        up.stop(timeout=60)
        print(up.log_tail(60))

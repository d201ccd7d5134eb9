"""Schemathesis against the live /openapi.json (SPEC §4): generated requests to every
operation, valid and invalid, signed in with a Bearer token, and not one 5xx answer.

Prices of all three assets are fresh for the whole run, so a 503 could only be a fault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.api import module_stack, set_price, sign_up
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 50  # per operation and phase; the run stays well under a minute
SEED = 20240601  # reproducible; change it to explore other inputs


stack = module_stack("api-schemathesis", 4, PRICE_MAX_AGE_S="3600")


def test_no_generated_request_gets_a_server_error(stack: Stack, tmp_path: Path):
    for asset, mid in (("SOL", "150"), ("ETH", "3000"), ("BTC", "60000")):
        set_price(stack, asset, mid)
    trader = sign_up(stack)
    report = tmp_path / "schemathesis.json"
    schema = httpx.get(f"{stack.api}/openapi.json", timeout=20).json()

    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{stack.api}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {trader.token}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",  # hypothesis' lambda descriptions (ast.parse) are not thread-safe on 3.11
            "--max-redirects",
            "0",
            "--request-timeout",
            "15",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,  # no schemathesis.toml of anyone else's
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    summary = json.loads(report.read_text())
    assert summary["failures"] == [] and summary["errors"] == [], output[-8000:]
    assert summary["operations"]["errored"] == 0
    # every operation of the schema was exercised, with hundreds of requests in all
    operations = len([m for path in schema["paths"].values() for m in path if m in ("get", "post")])
    assert summary["operations"]["tested"] == operations >= 12
    assert summary["test_cases"]["generated"] >= 10 * operations
    assert summary["phases"]["coverage"]["status"] == "success"
    assert summary["phases"]["fuzzing"]["status"] == "success"

"""The domain is pure: importing it pulls in no I/O library (ARCHITECTURE §1)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import exness.domain

FORBIDDEN = (
    "asyncio",
    "redis",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "websockets",
    "asyncpg",
    "psycopg",
    "psycopg2",
    "socket",
    "time",
    "random",
    "uuid",
)
DOMAIN = Path(exness.domain.__file__).parent


def test_domain_source_imports_nothing_forbidden():
    offenders = []
    for path in sorted(DOMAIN.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_domain_loads_no_io_library():
    probe = (
        "import sys, exness.domain; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    # `time`/`socket`/... may be loaded by the interpreter itself; the I/O libraries may not.
    loaded = set(eval(out.stdout))
    assert loaded.isdisjoint(
        {"asyncio", "redis", "sqlalchemy", "fastapi", "starlette", "websockets", "asyncpg"}
    ), loaded

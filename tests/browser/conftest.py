"""Browser tests (SPEC §9): the web terminal in a real Chromium, against the services as
processes (tests/e2e), a Backpack-protocol feed and an SMTP sink that receives the real
sign-in mail.

Playwright drives Debian's Chromium (`CHROMIUM`, default /usr/bin/chromium): it cannot
download a browser of its own here. Without one, or without a build of the app (`make web`),
every test here is skipped, and the run's summary says so loudly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from exness.services.server.webapp import default_dist
from tests.e2e.api import shared_stack
from tests.e2e.conftest import Stack
from tests.e2e.processes import free_port

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_REDIS_DB = 7


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    if not (default_dist() / "index.html").is_file():
        return f"the web terminal is not built at {default_dist()} (make web)"
    return None


MISSING = _missing()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if MISSING is None:
        return
    skip = pytest.mark.skip(reason=f"browser tests skipped: {MISSING}")
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if MISSING is not None:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED: {MISSING}", red=True, bold=True)


@pytest.fixture(scope="module")
def web_stack(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server_url: str,
    postgres_admin_url: str,
    template_database: str,
) -> Iterator[Stack]:
    """The platform with its web terminal; the mailed link lands on the terminal's own
    /dashboard (FRONTEND_URL is the server itself, as by default in production)."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with shared_stack(
        tmp_path_factory.mktemp("browser"),
        redis_server_url,
        postgres_admin_url,
        template_database,
        BROWSER_REDIS_DB,
        PORT=str(port),
        BACKEND_URL=origin,
        FRONTEND_URL=origin,
        PRICE_MAX_AGE_S="3600",  # the quotes of a test stay tradable however slow it is
    ) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    yield chromium
    chromium.close()

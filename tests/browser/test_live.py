"""The terminal's live connection (SPEC §8, §9): while the socket is down it says so; it
reconnects by itself, asks for the private events it missed (`since`) and shows them: a take
profit that fired while the server was down arrives as its toast, and the position is gone.
Nothing is polled: the screens change only when the socket tells them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.terminal import (
    account_fact,
    new_page,
    position_row,
    positions_table,
    quote,
    shoot,
    sign_up,
    ticket_order,
    toast,
)
from tests.e2e.api import unique_email
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_the_terminal_reconnects_and_catches_up(web_stack: Stack, browser: Browser, tmp_path: Path):
    stack = web_stack
    quote(stack, "SOL", "150")
    context, page = new_page(browser, stack, "laptop")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        sign_up(page, stack, unique_email("reconnect"), None, "laptop")
        ticket_order(page, margin="10", leverage="10", take_profit="153")
        page.get_by_role("button", name="Buy", exact=True).click()
        row = position_row(page, "SOL", "long", 10)
        expect(row).to_contain_text("153.000000")

        # Live, not polled: over ten quiet seconds the page asks the API nothing.
        requests.clear()
        page.wait_for_timeout(10_000)
        assert [url for url in requests if "/api/" in url] == [], requests

        # The server goes away: the terminal says so and keeps trying.
        stack.services["server"].stop()
        banner = page.get_by_role("status").filter(has_text="Reconnecting to live updates")
        expect(banner).to_be_visible()
        expect(page.locator(".connection")).to_have_attribute("data-state", "reconnecting")
        shoot(page, tmp_path, "laptop-reconnecting")

        # Meanwhile the feed crosses the take profit: the engine closes it at the bid 153.49.
        quote(stack, "SOL", "153.5")
        stack.services["server"].start()
        stack.wait_ready()

        # Back: the missed event is replayed (`since`), shown, and the screens agree.
        expect(banner).to_be_hidden(timeout=40_000)
        expect(toast(page, "Take profit hit")).to_contain_text(
            "long SOL closed at 153.490000: PnL +$2.32"  # 1000·10·3.48/150.01 = 231.98…
        )
        expect(positions_table(page)).to_contain_text("No open positions.")
        expect(account_fact(page, "Balance")).to_have_text("$5,002.32")
    finally:
        print(f"screenshots: {tmp_path}")
        context.close()

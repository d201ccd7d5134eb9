"""What the browser tests do to the web terminal, as a trader does it: sign up by the real
mail, read the screens by their accessible names, trade from the ticket. Prices are driven
by the fake feed (`set_price`), so every figure on screen is known to the cent."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.api import set_price
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
TIMEOUT_MS = 20_000
HALF_SPREAD = "0.01"
expect.set_options(timeout=TIMEOUT_MS)

# (Playwright cannot take a "/" in a name pattern: "SOL.USD" stands for SOL/USD.)

# The pixels of a chart canvas that are not its background: candles, grid, labels.
DRAWN_PIXELS = """
() => {
  let drawn = 0;
  for (const canvas of document.querySelectorAll('.chart canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      // the chart's candles are green (#2ebd85) or red (#f6465d): a channel well above the rest
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 0 && (g - r > 80 || r - g > 80)) drawn += 1;
    }
  }
  return drawn;
}
"""


class Problems(list[str]):
    """Page errors and console errors of a page (Chromium logs each 4xx answer as "Failed
    to load resource": the app expects some, such as the 401 that says "not signed in")."""

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: (
                self.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )


def new_page(browser: Browser, stack: Stack, size: str) -> tuple[BrowserContext, Page]:
    width, height = SIZES[size]
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=stack.api, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def shoot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def quote(stack: Stack, asset: str, mid: str) -> int:
    """Bid and ask a cent either side of `mid` (SOL: 149.99 / 150.01 for 150)."""
    return set_price(stack, asset, mid, half_spread=HALF_SPREAD)


def sign_up(page: Page, stack: Stack, email: str, shots: Path | None, size: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("heading", name="Sign in to the terminal")).to_be_visible()
    if shots:
        shoot(page, shots, f"{size}-01-signin")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="We sent a link")).to_contain_text(email)
    if shots:
        shoot(page, shots, f"{size}-02-check-your-mail")
    # The link in the real mail sets the cookie and redirects to the terminal.
    page.goto(stack.mailbox.wait_for_link(email))
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(live_status(page)).to_have_attribute("data-state", "open")


def wait_for_candles(stack: Stack, asset: str) -> None:
    """The DB processor has written the quotes as 1-minute bars that /klines serves."""
    wait_until(
        lambda: httpx.get(
            f"{stack.api}/api/v1/klines", params={"asset": asset, "interval": "1m"}, timeout=5
        ).json(),
        20,
        f"{asset} candles",
    )


def live_status(page: Page) -> Locator:
    return page.locator(".connection")


def account_bar(page: Page) -> Locator:
    return page.get_by_role("region", name="Account")


def account_fact(page: Page, name: str) -> Locator:
    """The value of a fact in the account bar (its <dd>), by its term."""
    return account_bar(page).locator("div", has=page.locator("dt", has_text=name)).locator("dd")


def market(page: Page, asset: str) -> Locator:
    return page.get_by_role("button", name=re.compile(rf"^{asset}.USD"))


def chart(page: Page, asset: str) -> Locator:
    return page.get_by_role("img", name=re.compile(rf"{asset}.USD candlestick chart"))


def tab(page: Page, name: str) -> Locator:
    return page.get_by_role("tab", name=re.compile(rf"^{name}"))


def toast(page: Page, text: str) -> Locator:
    """A toast: polite (status) for fills and closes, assertive (alert) for liquidations."""
    return page.locator(".notice").filter(has_text=text)


def ticket_order(
    page: Page,
    *,
    margin: str = "10",
    leverage: str = "10",
    order_type: str = "Market",
    trigger: str | None = None,
    stop_loss: str = "",
    take_profit: str = "",
) -> None:
    page.get_by_role("radio", name=order_type, exact=True).check()
    if trigger is not None:
        page.get_by_label("Trigger price").fill(trigger)
    page.get_by_label("Margin (USD)").fill(margin)
    page.get_by_label("Leverage").fill(leverage)
    page.get_by_label("Stop loss", exact=True).fill(stop_loss)
    page.get_by_label("Take profit", exact=True).fill(take_profit)


def positions_table(page: Page) -> Locator:
    return page.get_by_role("table", name="Open positions")


def position_row(page: Page, asset: str, side: str, leverage: int) -> Locator:
    return positions_table(page).get_by_role(
        "row", name=re.compile(rf"^{asset}.USD {side} {leverage}x")
    )


def history_has_close_reasons(stack: Stack) -> bool:
    """Whether the server records close reasons in history (SPEC §7.4, the broker-db work)."""
    schema = httpx.get(f"{stack.api}/openapi.json", timeout=5).json()
    fields = schema["components"]["schemas"]["HistoryTrade"]["properties"]
    return "closeReason" in fields

"""A trader's first session in the web terminal, in Chromium, at a laptop's and a phone's
size: sign up by the real mail, land on /dashboard, see the chart drawn, open a long from
the ticket (its preview agreeing with the engine), see it in "Open positions" with its live
PnL, close it, find it in "History", log out. A screenshot of each screen is kept in the
test's folder."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.api import set_price, unique_email
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e

SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
TIMEOUT_MS = 20_000
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


def shoot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def sign_up(page: Page, stack: Stack, email: str, shots: Path, size: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("heading", name="Sign in to the terminal")).to_be_visible()
    shoot(page, shots, f"{size}-1-signin")

    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(email)
    shoot(page, shots, f"{size}-2-check-your-mail")

    # The link in the real mail sets the cookie and redirects to the terminal.
    page.goto(stack.mailbox.wait_for_link(email))
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def wait_for_candles(stack: Stack, asset: str) -> None:
    """The DB processor has written the quotes as 1-minute bars that /klines serves."""
    wait_until(
        lambda: httpx.get(
            f"{stack.api}/api/v1/klines", params={"asset": asset, "interval": "1m"}, timeout=5
        ).json(),
        20,
        f"{asset} candles",
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_a_first_session_in_the_terminal(
    web_stack: Stack, browser: Browser, tmp_path: Path, size: str
):
    stack = web_stack
    for asset, mid in (("ETH", "3000"), ("BTC", "50000"), ("SOL", "149"), ("SOL", "150")):
        set_price(stack, asset, mid)
    wait_for_candles(stack, "SOL")
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=stack.api)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Chromium logs every 4xx answer as "Failed to load resource"; the app expects some (the
    # 401 that says "not signed in", the 404 of a first sign-in): anything else is a problem.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    try:
        sign_up(page, stack, unique_email(f"browser-{size}"), tmp_path, size)

        # The terminal: the new wallet, the markets, the chart drawn.
        expect(page.get_by_role("region", name="Account")).to_contain_text("$5,000.00")
        expect(page.get_by_role("button", name=re.compile(r"^SOL.USD"))).to_contain_text(
            "150.000000"
        )
        chart = page.get_by_role("img", name=re.compile(r"SOL.USD candlestick chart"))
        expect(chart).to_have_accessible_name(re.compile(r", 1m candles, last 150\.000000"))
        wait_until(lambda: page.evaluate(DRAWN_PIXELS) > 20, 10, "candles drawn on the chart")
        page.get_by_role("button", name="5m", exact=True).click()
        expect(page.get_by_role("button", name="5m", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(chart).to_have_accessible_name(re.compile(r", 5m candles"))

        # The ticket's preview, by the engine's arithmetic: $10.00 at 10x from 150.
        page.get_by_label("Margin (USD)").fill("10")
        page.get_by_label("Leverage").fill("10")
        preview = page.get_by_role("table", name="Order preview by side")
        expect(page.locator(".preview")).to_contain_text("$100.00")  # position size
        expect(preview.get_by_role("row", name=re.compile("^Liquidation"))).to_have_text(
            re.compile(r"Liquidation\s*165\.000000\s*135\.000000")
        )
        shoot(page, tmp_path, f"{size}-3-dashboard")

        # Buy: a long opens and shows in "Open positions".
        page.get_by_role("button", name="Buy", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="Opened long SOL")).to_contain_text(
            "at 150.000000, liquidation 135.000000"
        )
        positions = page.get_by_role("table", name="Open positions")
        row = positions.get_by_role("row", name=re.compile(r"^SOL.USD long 10x"))
        expect(row).to_contain_text("$10.00")
        expect(row).to_contain_text("135.000000")
        expect(page.get_by_role("region", name="Account")).to_contain_text("$4,990.00")

        # The price moves: the position's PnL follows (10.00 × 10 × 1/150 = 0.67).
        set_price(stack, "SOL", "151")
        expect(row).to_contain_text("+$0.67")
        shoot(page, tmp_path, f"{size}-4-position-open")

        # Close: the position leaves the table, the profit reaches the balance.
        row.get_by_role("button", name="Close", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="Closed long SOL")).to_contain_text(
            "at 151.000000: PnL +$0.67"
        )
        expect(positions).to_contain_text("No open positions.")
        expect(page.get_by_role("region", name="Account")).to_contain_text("$5,000.67")

        # History lists it.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
        expect(page).to_have_url(re.compile(r"/history$"))
        history = page.get_by_role("table", name="History")
        closed = history.get_by_role("row", name=re.compile(r"SOL.USD"))
        expect(closed).to_contain_text("closed")
        expect(closed).to_contain_text("+$0.67")
        expect(closed).to_contain_text("151.000000")
        shoot(page, tmp_path, f"{size}-5-history")

        # A reload of a client route serves the app again; logging out ends the session.
        page.reload()
        expect(page.get_by_role("table", name="History")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/signin$"))
        page.goto("/dashboard")
        expect(page).to_have_url(re.compile(r"/signin$"))
        assert problems == [], problems
    finally:
        print(f"screenshots: {tmp_path}")
        context.close()


def test_the_keyboard_reaches_the_ticket_with_a_visible_focus(web_stack: Stack, browser: Browser):
    """Signing in and reaching the ticket by keyboard alone; the focused control is outlined;
    a refused email is explained next to the form."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=web_stack.api)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        email = unique_email("keyboard")
        page.goto("/signin")
        expect(page.get_by_label("Email")).to_be_visible()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Email")).to_be_focused()
        page.keyboard.type("not-an-email")
        page.keyboard.press("Enter")
        # the server's refusal, in words, next to the field it is about
        expect(page.get_by_role("alert")).to_contain_text("email")
        expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
        page.get_by_label("Email").fill("")
        page.keyboard.type(email)
        page.keyboard.press("Enter")  # submits the form
        expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
        page.goto(web_stack.mailbox.wait_for_link(email))
        expect(page).to_have_url(re.compile(r"/dashboard$"))
        buy = page.get_by_role("button", name="Buy", exact=True)
        expect(buy).to_be_enabled()
        for _ in range(40):
            page.keyboard.press("Tab")
            if buy.evaluate("element => element === document.activeElement"):
                break
        expect(buy).to_be_focused()
        outline = buy.evaluate("element => getComputedStyle(element).outlineStyle")
        assert outline == "solid"
    finally:
        context.close()


def test_the_server_serves_the_app_and_keeps_api_errors_json(web_stack: Stack):
    base = web_stack.api
    page = httpx.get(f"{base}/dashboard", timeout=5)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script is not None, page.text
    asset = httpx.get(f"{base}{script.group(1)}", timeout=5)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = httpx.get(f"{base}/api/v1/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["success"] is False

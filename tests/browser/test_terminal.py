"""A trader's session in the web terminal (SPEC §9), in Chromium, at a laptop's and a phone's
size, every figure checked to the cent against the engine's arithmetic: sign up by the real
mail; the markets' live bid and ask; the chart drawn with live prices; the ticket's preview;
a long opened at the ask; a driven price moving its live PnL and the account bar; a take
profit set from the positions table, then fired by the feed (a toast, the position gone,
history saying why); a limit order placed and cancelled; a 100x long liquidated (its toast);
the history with its filters and analytics, and the CSV statement downloaded; logout. A
screenshot of each screen is kept in the test's folder (printed at the end)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.terminal import (
    DRAWN_PIXELS,
    Problems,
    account_fact,
    chart,
    history_has_close_reasons,
    market,
    new_page,
    position_row,
    positions_table,
    quote,
    shoot,
    sign_up,
    tab,
    ticket_order,
    toast,
    wait_for_candles,
)
from tests.e2e.api import unique_email
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_a_session_in_the_terminal(web_stack: Stack, browser: Browser, tmp_path: Path, size: str):
    stack = web_stack
    for asset, mid in (("ETH", "3000"), ("BTC", "50000"), ("SOL", "149"), ("SOL", "150")):
        quote(stack, asset, mid)
    wait_for_candles(stack, "SOL")
    context, page = new_page(browser, stack, size)
    problems = Problems()
    problems.watch(page)
    try:
        sign_up(page, stack, unique_email(f"browser-{size}"), tmp_path, size)

        # The new wallet; the markets' live quotes; the chart drawn with live prices.
        expect(account_fact(page, "Balance")).to_have_text("$5,000.00")
        expect(account_fact(page, "Margin level")).to_have_text("—")
        expect(market(page, "SOL")).to_contain_text(re.compile(r"Bid\s*149\.990000"))
        expect(market(page, "SOL")).to_contain_text(re.compile(r"Ask\s*150\.010000"))
        expect(market(page, "BTC")).to_contain_text("50,000.0100")
        expect(market(page, "SOL")).to_contain_text("%")  # the change since the day's open
        sol_chart = chart(page, "SOL")
        expect(sol_chart).to_have_accessible_name(re.compile(r", 1m candles, last 150\.000000"))
        expect(page.locator(".chart")).to_have_attribute("data-live", "true")
        wait_until(lambda: page.evaluate(DRAWN_PIXELS) > 20, 10, "candles drawn on the chart")
        page.get_by_role("button", name="5m", exact=True).click()
        expect(page.get_by_role("button", name="5m", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(sol_chart).to_have_accessible_name(re.compile(r", 5m candles"))

        # The ticket's preview by the engine's arithmetic: a long at the ask 150.01, a short
        # at the bid 149.99; $10.00 at 10x: liquidation floor(150.01·9/10), ceil(149.99·11/10).
        ticket_order(page, margin="10", leverage="10")
        preview = page.get_by_role("table", name="Order preview by side")
        expect(page.locator(".preview")).to_contain_text("$100.00")  # position size
        expect(preview.get_by_role("row", name=re.compile("^Entry"))).to_have_text(
            re.compile(r"Entry\s*149\.990000\s*150\.010000")
        )
        expect(preview.get_by_role("row", name=re.compile("^Liquidation"))).to_have_text(
            re.compile(r"Liquidation\s*164\.989000\s*135\.009000")
        )
        shoot(page, tmp_path, f"{size}-03-terminal")

        # Buy: a long at the ask; valued at once at the bid: 1000·10·(−0.02)/150.01 = −1.3¢.
        page.get_by_role("button", name="Buy", exact=True).click()
        expect(toast(page, "Opened long SOL")).to_contain_text(
            "at 150.010000, liquidation 135.009000"
        )
        row = position_row(page, "SOL", "long", 10)
        expect(row).to_contain_text("$10.00")
        expect(row).to_contain_text("135.009000")
        expect(row.get_by_test_id("pnl")).to_have_text("-$0.01")
        expect(account_fact(page, "Balance")).to_have_text("$4,990.00")
        expect(account_fact(page, "Used margin")).to_have_text("$10.00")
        expect(account_fact(page, "Equity")).to_have_text("$4,999.99")

        # The feed moves SOL to 150.99 / 151.01: 1000·10·0.98/150.01 = 65.3¢, live.
        quote(stack, "SOL", "151")
        expect(row.get_by_test_id("pnl")).to_have_text("+$0.65")
        expect(row).to_contain_text("150.990000")  # valued at the bid
        expect(account_fact(page, "Unrealized PnL")).to_have_text("+$0.65")
        expect(account_fact(page, "Equity")).to_have_text("$5,000.65")
        expect(account_fact(page, "Margin level")).to_have_text("50,006.50 %")

        # A stop loss and a take profit, set from the table; the chart draws their lines.
        row.get_by_role("button", name="Edit SL/TP").click()
        dialog = page.get_by_role("dialog", name=re.compile("Stop loss and take profit"))
        dialog.get_by_label("Stop loss").fill("135")  # at the liquidation price: refused
        expect(dialog).to_contain_text("must be above its liquidation price 135.009000")
        dialog.get_by_label("Stop loss").fill("140")
        dialog.get_by_label("Take profit").fill("152")
        expect(dialog).to_contain_text("PnL there: +$1.33")  # 1000·10·1.99/150.01 = 132.66…
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        expect(toast(page, "Saved long SOL")).to_contain_text(
            "stop loss 140.000000, take profit 152.000000"
        )
        expect(row).to_contain_text("152.000000")
        expect(sol_chart).to_have_accessible_name(
            re.compile(r"lines: long entry 150\.010000, liquidation 135\.009000, SL 140\.000000")
        )
        shoot(page, tmp_path, f"{size}-04-position-open")

        # The feed gaps past the TP: it fills at that tick's bid 152.49, 1000·10·2.48/150.01.
        quote(stack, "SOL", "152.5")
        expect(toast(page, "Take profit hit")).to_contain_text(
            "long SOL closed at 152.490000: PnL +$1.65"
        )
        expect(positions_table(page)).to_contain_text("No open positions.")
        expect(account_fact(page, "Balance")).to_have_text("$5,001.65")
        shoot(page, tmp_path, f"{size}-05-take-profit")

        # A buy limit below the ask: placed (its margin reserved), then cancelled.
        ticket_order(page, order_type="Limit", trigger="140", margin="25", leverage="5")
        expect(preview.get_by_role("row", name=re.compile("^Entry at trigger"))).to_have_text(
            re.compile(r"140\.000000\s*140\.000000")
        )
        expect(page.locator(".preview")).to_contain_text(
            "Sell: a sell limit's trigger must be above the bid 152.490000"
        )
        page.get_by_role("button", name="Buy", exact=True).click()
        expect(toast(page, "Placed buy limit SOL")).to_contain_text("at 140.000000")
        expect(account_fact(page, "Reserved")).to_have_text("$25.00")
        tab(page, "Pending orders").click()
        orders = page.get_by_role("table", name="Pending orders")
        pending = orders.get_by_role("row", name=re.compile(r"^SOL.USD buy limit 5x"))
        expect(pending).to_contain_text("140.000000")
        expect(sol_chart).to_have_accessible_name(re.compile(r"buy limit 140\.000000"))
        shoot(page, tmp_path, f"{size}-06-pending-order")
        pending.get_by_role("button", name="Cancel").click()
        expect(toast(page, "Cancelled buy limit SOL")).to_be_visible()
        expect(orders).to_contain_text("No pending orders.")
        expect(account_fact(page, "Balance")).to_have_text("$5,001.65")

        # A 100x long from the ask 152.51 liquidates at floor(152.51·99/100) = 150.9849;
        # the bid falls to 149.99: its whole margin is lost.
        tab(page, "Positions").click()
        ticket_order(page, order_type="Market", margin="10", leverage="100")
        expect(page.locator(".preview")).to_contain_text("150.984900")
        page.get_by_role("button", name="Buy", exact=True).click()
        expect(position_row(page, "SOL", "long", 100)).to_contain_text("150.984900")
        quote(stack, "SOL", "150")
        liquidated = toast(page, "Liquidated")
        expect(liquidated).to_contain_text("long SOL at 149.990000, margin $10.00 lost")
        expect(page.get_by_role("alert").filter(has_text="Liquidated")).to_be_visible()
        expect(positions_table(page)).to_contain_text("No open positions.")
        expect(account_fact(page, "Balance")).to_have_text("$4,991.65")
        shoot(page, tmp_path, f"{size}-07-liquidated")

        # History: both trades, why each closed, the analytics; filters; the CSV statement.
        tab(page, "History").click()
        history = page.get_by_role("table", name="History")
        expect(history.get_by_role("row", name=re.compile(r"^SOL.USD"))).to_have_count(2)
        tp_row = history.get_by_role("row").filter(has_text="+$1.65")
        expect(tp_row).to_contain_text("152.490000")
        liquidation_row = history.get_by_role("row").filter(has_text="-$10.00")
        expect(liquidation_row).to_contain_text("liquidated")
        expect(liquidation_row).to_contain_text("Liquidation")
        if history_has_close_reasons(stack):
            expect(tp_row).to_contain_text("Take profit")
        analytics = page.get_by_role("region", name="Analytics")
        expect(analytics).to_contain_text(re.compile(r"Trades\s*2"))
        expect(analytics).to_contain_text(re.compile(r"Realized PnL\s*-\$8\.35"))
        page.get_by_label("Status").select_option("liquidated")
        expect(history.get_by_role("row", name=re.compile(r"^SOL.USD"))).to_have_count(1)
        expect(history).to_contain_text("-$10.00")
        shoot(page, tmp_path, f"{size}-08-history")
        page.get_by_label("Status").select_option("")
        statement = download_statement(page, tmp_path, size)

        # The history page of its own; a reload of a client route serves the app again.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
        expect(page).to_have_url(re.compile(r"/history$"))
        expect(page.get_by_role("table", name="History")).to_be_visible()
        page.reload()
        expect(page.get_by_role("table", name="History")).to_contain_text("152.490000")

        # Logging out ends the session.
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/signin$"))
        page.goto("/dashboard")
        expect(page).to_have_url(re.compile(r"/signin$"))
        assert problems == [], problems
        if not statement:
            pytest.xfail("this server has no CSV statement yet (GET /trade/history?format=csv)")
    finally:
        print(f"screenshots: {tmp_path}")
        context.close()


def download_statement(page, folder: Path, size: str) -> bool:
    """The CSV link downloads the statement of the rows the filters match (SPEC §7.7)."""
    link = page.get_by_role("link", name="Download CSV")
    expect(link).to_have_attribute("href", re.compile(r"/api/v1/trade/history\?format=csv"))
    with page.expect_download() as started:
        link.click()
    download = started.value
    saved = folder / f"{size}-statement.csv"
    download.save_as(saved)
    text = saved.read_text()
    if text.lstrip().startswith("{"):
        return False  # JSON: a server before SPEC §7.7
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2, text
    assert {row["pnl"] for row in rows} == {"1.65", "-10.00"}, rows
    assert {row["closeReason"] for row in rows} == {"tp", "liquidation"}, rows
    assert all(row["createdAt"].endswith("Z") for row in rows), rows
    return True


def test_the_keyboard_reaches_the_ticket_with_a_visible_focus(web_stack: Stack, browser: Browser):
    """Signing in and reaching the ticket by keyboard alone; the focused control is outlined;
    a refused email is explained next to the form; the tabs answer the arrow keys."""
    context, page = new_page(browser, web_stack, "laptop")
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
        # The order types are radios: arrows move between them.
        market_type = page.get_by_role("radio", name="Market", exact=True)
        market_type.focus()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_role("radio", name="Limit", exact=True)).to_be_checked()
        expect(page.get_by_label("Trigger price")).to_be_visible()
        # The tabs: arrows move the selection, and the panel follows.
        tab(page, "Positions").focus()
        page.keyboard.press("ArrowRight")
        expect(tab(page, "Pending orders")).to_be_focused()
        expect(tab(page, "Pending orders")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("table", name="Pending orders")).to_be_visible()
        page.keyboard.press("End")
        expect(tab(page, "History")).to_have_attribute("aria-selected", "true")
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


def test_an_api_error_is_shown_where_it_happened(web_stack: Stack, browser: Browser):
    """A refusal is said in words next to what was refused: the browser's own checks (the
    balance it knows) and the server's answer (its message, as the server wrote it)."""
    quote(web_stack, "SOL", "150")
    context, page = new_page(browser, web_stack, "laptop")
    try:
        sign_up(page, web_stack, unique_email("refused"), None, "laptop")
        expect(account_fact(page, "Balance")).to_have_text("$5,000.00")
        ticket = page.locator(".ticket")
        ticket_order(page, margin="5000.01", leverage="2")
        expect(ticket).to_contain_text("the margin is more than your balance of $5,000.00")
        ticket_order(page, margin="10", leverage="2", take_profit="149")
        buy = page.get_by_role("button", name="Buy", exact=True)
        expect(buy).to_be_disabled()  # aria-disabled: still focusable, and it says why
        expect(buy).to_have_accessible_description(
            "Buy: a long's take profit must be above 149.990000"
        )
        expect(page.get_by_role("button", name="Sell", exact=True)).to_be_enabled()
        # what only the server knows, in its words: a price gone stale under the order
        page.route(
            "**/api/v1/trade/create",
            lambda route: route.fulfill(
                status=503,
                content_type="application/json",
                body='{"success":false,"message":"the SOL price is stale (12 s old); '
                'no trade opens on it","code":"STALE_PRICE"}',
            ),
        )
        ticket_order(page, margin="10", leverage="2")
        page.get_by_role("button", name="Sell", exact=True).click()
        expect(ticket.get_by_role("alert")).to_have_text(
            "Sell failed: the SOL price is stale (12 s old); no trade opens on it"
        )
        expect(positions_table(page)).to_contain_text("No open positions.")
    finally:
        context.close()


def test_a_lost_answer_is_retried_with_the_same_key_and_trades_once(
    web_stack: Stack, browser: Browser
):
    """The first answer to Buy is lost on its way back (the server opened the position);
    the terminal retries with the same Idempotency-Key, the server replays its answer, and
    one position is open (SPEC §7.5)."""
    quote(web_stack, "SOL", "150")
    context, page = new_page(browser, web_stack, "laptop")
    attempts: list[dict] = []

    def lose_the_first_answer(route) -> None:
        response = route.fetch()  # the request reaches the server and is applied
        attempts.append(
            {
                "key": route.request.headers.get("idempotency-key"),
                "replayed": response.headers.get("idempotent-replayed"),
            }
        )
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    try:
        sign_up(page, web_stack, unique_email("retry"), None, "laptop")
        page.route("**/api/v1/trade/create", lose_the_first_answer)
        ticket_order(page, margin="10", leverage="10")
        page.get_by_role("button", name="Buy", exact=True).click()
        expect(toast(page, "Opened long SOL")).to_have_count(1)  # its live event came first
        for _ in range(100):  # the route handler runs while Playwright waits, not while we sleep
            if len(attempts) == 2:
                break
            page.wait_for_timeout(100)
        expect(page.locator(".ticket").get_by_role("alert")).to_have_count(0)  # no error shown
        assert attempts[0]["key"] and attempts[0]["key"] == attempts[1]["key"], attempts
        assert attempts[1]["replayed"] == "true", attempts
        expect(
            positions_table(page).get_by_role("row", name=re.compile(r"^SOL.USD"))
        ).to_have_count(1)
        expect(account_fact(page, "Balance")).to_have_text("$4,990.00")
    finally:
        context.close()

"""The web terminal in headless Chromium (issue #12, SPEC §9).

1. ui_js_kb_gz: the JavaScript the terminal loads (every chunk in web/dist/assets: the app
   and the chart, which the sign-in page does not wait for), gzipped (level 6, a server's
   usual), in KB. Target ≤ 250.
2. Start the platform as bench/e2e.py does (embedded stores, a Backpack-protocol feed
   quoting every 100 ms, the four services as processes, mail to an SMTP sink) and sign a
   trader in through the real mail.
3. ui_ready_ms: from navigation to the chart drawn with live prices (the `exness:chart-live`
   performance mark, set when the live candle of the chart's channel is on the canvas, after
   the app, the chart's chunk, the candles over REST and the socket), in a fresh browser
   context each time (an empty cache: a trader's first visit), median of BENCH_UI_LOADS (10);
   ui_ready_warm_ms the same with the assets cached (a reload). Target ≤ 1,500.
4. ui_quote_to_screen_p99_ms: with the terminal open, a SOL quote appended to price_stream
   (codec/prices.py encode_price_updates, as the poller writes it), until the market's bid on
   the screen shows it: a MutationObserver sees the text, and the time is taken in the next
   animation frame (the frame that paints it). Both clocks are this machine's wall clock
   (Python's time.time(), the page's performance.timeOrigin + now()). Quotes 250 ms apart
   (the socket sends at most one per asset per 100 ms), BENCH_UI_QUOTES (200) of them; the
   feed is paused meanwhile, so only these move SOL; the first 5 are not counted (the feed's
   last quote may still be on its way, and the page's code is not yet compiled). Target ≤ 150.

Run: `make web` first, then `.venv/bin/python -m bench ui` (or `make bench`).
"""

from __future__ import annotations

import gzip
import os
import statistics
import time
from pathlib import Path

import redis
from playwright.sync_api import Browser, sync_playwright

from bench.e2e import running_platform, sign_in
from bench.results import percentile, record, show
from exness.adapters import keys
from exness.codec.prices import encode_price_updates
from exness.domain.messages import PriceTick
from exness.services.server.webapp import default_dist

LOADS = int(os.environ.get("BENCH_UI_LOADS", "10"))
QUOTES = int(os.environ.get("BENCH_UI_QUOTES", "200"))
WARMUP_QUOTES = 5  # not counted: the first quotes after the feed paused, and the page's JIT
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--disable-gpu", "--no-first-run", "--disable-sync"]

READY = "() => performance.getEntriesByName('exness:chart-live').length > 0"
READY_AT = "() => performance.getEntriesByName('exness:chart-live')[0].startTime"

# Every text the SOL bid takes, with the wall-clock time of the frame that paints it.
WATCH_BID = """
() => {
  window.__bids = {};
  const seen = () => {
    const bid = document.querySelector('.market[data-asset="SOL"] .market-bid');
    const text = bid && bid.textContent;
    if (text && !(text in window.__bids)) {
      window.__bids[text] = null;
      requestAnimationFrame(() => {
        window.__bids[text] = performance.timeOrigin + performance.now();
      });
    }
  };
  new MutationObserver(seen).observe(document.body, {
    subtree: true, childList: true, characterData: true,
  });
}
"""


def js_kb_gz(dist: Path) -> float:
    scripts = sorted((dist / "assets").glob("*.js"))
    if not scripts:
        raise SystemExit(f"no JavaScript in {dist}/assets: run `make web` first")
    total = sum(len(gzip.compress(script.read_bytes(), compresslevel=6)) for script in scripts)
    return round(total / 1024, 1)


def launch(playwright) -> Browser:
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def ready_ms(browser: Browser, api: str, token: str, loads: int) -> tuple[list[float], list[float]]:
    cold, warm = [], []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": "authToken", "value": token, "url": api}])
        page = context.new_page()
        for samples in (cold, warm):
            if samples is cold:
                page.goto(f"{api}/dashboard")
            else:
                page.reload()
            page.wait_for_function(READY, timeout=30_000)
            samples.append(page.evaluate(READY_AT))
        context.close()
    return cold, warm


def quote_to_screen_ms(browser: Browser, api: str, token: str, redis_url: str) -> list[float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "authToken", "value": token, "url": api}])
    page = context.new_page()
    page.goto(f"{api}/dashboard")
    page.wait_for_function(READY, timeout=30_000)
    page.evaluate(WATCH_BID)
    samples: list[float] = []
    client = redis.Redis.from_url(redis_url)
    try:
        for n in range(WARMUP_QUOTES + QUOTES):
            mid = 150_000_000 + 1_000 * (n + 1)  # SOL units: 150.001, 150.002, …
            bid, ask = mid - 10_000, mid + 10_000
            shown = f"{bid // 1_000_000}.{bid % 1_000_000:06d}"
            sent = time.time()
            tick = PriceTick("SOL", mid, int(sent * 1_000_000), bid, ask)
            client.xadd(keys.PRICE_STREAM, {"data": encode_price_updates([tick])})
            painted = None
            deadline = sent + 5
            while time.time() < deadline:
                page.wait_for_timeout(5)
                painted = page.evaluate(f"() => window.__bids[{shown!r}] ?? null")
                if painted is not None:
                    break
            if painted is None:
                raise SystemExit(f"SOL bid {shown} never reached the screen")
            if n >= WARMUP_QUOTES:
                samples.append(painted - sent * 1000)
            page.wait_for_timeout(250)
    finally:
        client.close()
        context.close()
    return samples


def run() -> dict[str, float | int | str]:
    dist = default_dist()
    figures: dict[str, float | int | str] = {"ui_js_kb_gz": js_kb_gz(dist)}
    settings = {"LOG_LEVEL": "WARNING", "WEB_DIST": str(dist)}
    with running_platform(settings) as platform:
        api = platform.api
        [token] = sign_in(api, platform.mailbox, 1)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                cold, warm = ready_ms(browser, api, token, LOADS)
                platform.quoter.paused.set()
                time.sleep(0.5)
                latencies = quote_to_screen_ms(browser, api, token, platform.stores.redis_url)
            finally:
                browser.close()
    figures.update(
        {
            "ui_ready_ms": round(statistics.median(cold), 1),
            "ui_ready_p90_ms": round(percentile(cold, 0.9), 1),
            "ui_ready_warm_ms": round(statistics.median(warm), 1),
            "ui_quote_to_screen_p50_ms": round(statistics.median(latencies), 1),
            "ui_quote_to_screen_p99_ms": round(percentile(latencies, 0.99), 1),
            "ui_settings": f"headless Chromium 1280×800, {LOADS} loads, {len(latencies)} quotes",
        }
    )
    show("web terminal in headless Chromium", figures)
    record("ui", figures)
    return figures

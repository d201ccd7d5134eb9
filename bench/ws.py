"""Live updates under load (issue #11, SPEC §8): many sockets while trades run through HTTP.

1. The platform as for bench/e2e.py: embedded stores, the fake Backpack feed quoting SOL,
   ETH and BTC every 100 ms, the four services (SERVER_WORKERS=2), mail to an SMTP sink.
2. BENCH_WS_CLIENTS traders (1,000) sign up through the real mail flow.
3. Phase A, no sockets: BENCH_WS_TRADERS of them (64) trade over HTTP for BENCH_SECONDS
   (bench/loadgen.py): the HTTP figures without live updates.
4. Phase B (bench/wsload.py, its own process): every trader opens a socket subscribed to
   `quotes` and its own `account`; first 10 s of quotes alone (no trades): quote latency and
   the platform's CPU per frame sent; then the trades of phase A again: quote latency (the
   feed's time of the quote → the frame at a client), order-event latency (the HTTP answer →
   the event on the trader's socket), and the same HTTP figures, so the sockets' cost shows.

Figures: ws_clients, ws_quote_p50_ms / ws_quote_p99_ms (target ≤ 50) and where it goes:
ws_quote_first_p50/p99_ms (each quote at the first socket to get it: the pipeline from the
feed to a server's hub) and ws_quote_spread_p50/p99_ms (from that socket to the last one:
the fan-out), each also _no_trades; ws_order_event_p50_ms
/ ws_order_event_p99_ms (target ≤ 50), ws_frames_per_s, ws_events_missing (must be 0),
ws_http_trade_open_per_s / _p99_ms (with the sockets) beside ws_http_trade_open_per_s_no_ws /
_p99_ms_no_ws (without), ws_platform_cpu_s_per_s with and without, and ws_machine_busy_other
(the share of the machine busy with processes other than the platform and the load
generators during phase B: other people's work on a shared machine). Run: `make bench` or
`.venv/bin/python -m bench ws` (BENCH_WS_CLIENTS, BENCH_WS_TRADERS, BENCH_SECONDS).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import Mailbox

from bench.e2e import load, ms, platform_pids, running_platform, sign_in
from bench.loadgen import Plan, run_generator
from bench.results import median, percentile, record, show
from bench.wsload import WsPlan

CLIENTS = int(os.environ.get("BENCH_WS_CLIENTS", "1000"))
TRADERS = int(os.environ.get("BENCH_WS_TRADERS", "64"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = os.environ.get("BENCH_SERVER_WORKERS", "2")


def sign_in_many(api: str, mailbox: Mailbox, count: int) -> list[str]:
    """`count` traders through the mail flow, 16 at a time."""
    with ThreadPoolExecutor(16) as pool:
        chunks = pool.map(lambda _: sign_in(api, mailbox, count // 16 + 1), range(16))
        return [token for chunk in chunks for token in chunk][:count]


def ws_load(plan: WsPlan) -> dict:
    return run_generator("bench.wsload", plan)


def run() -> dict[str, float | int | str]:
    settings = {
        "SERVER_WORKERS": WORKERS,
        "LOG_LEVEL": "WARNING",
        "ENGINE_RPC_TIMEOUT_S": "10",
        "SNAPSHOT_INTERVAL_S": "20",
        "SIGNIN_MAILS_PER_HOUR": "0",  # a thousand sign-ups in a minute are ours
    }
    with running_platform(settings) as platform:
        port = platform.port
        load_before = os.getloadavg()
        tokens = sign_in_many(platform.api, platform.mailbox, CLIENTS)
        traders = tokens[:TRADERS]
        pids = platform_pids(platform.services, platform.stores)

        # phase A: trades over HTTP, no sockets
        plan = Plan("127.0.0.1", port, SECONDS, 3.0, "trades", traders, cpu_pids=pids)
        without = load(plan)

        # phase B: the same, with every trader on a socket
        wsplan = WsPlan("127.0.0.1", port, SECONDS, 3.0, tokens, traders, cpu_pids=pids)
        started = time.monotonic()
        with_ws = ws_load(wsplan)
        wall = time.monotonic() - started
        load_after = os.getloadavg()
        figures = summarize(without, with_ws)
        busy, softirq = _busy(with_ws["machine_before"], with_ws["machine_after"])
        cores = os.cpu_count() or 1
        platform_share = with_ws["cpu_seconds"] / with_ws["seconds"] / cores
        loadgen_share = with_ws["loadgen_cpu_seconds"] / with_ws["seconds"] / cores
        figures["ws_machine_busy"] = round(busy, 3)
        figures["ws_machine_softirq"] = round(softirq, 3)
        other = busy - platform_share - loadgen_share - softirq
        figures["ws_machine_busy_other"] = round(max(0.0, other), 3)
        figures["ws_settings"] = (
            f"{CLIENTS} sockets, {TRADERS} HTTP traders, {SECONDS:g} s, server workers "
            f"{WORKERS}, quotes every 100 ms per asset; load average "
            f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; machine busy "
            f"{busy:.0%} while trading in phase B (the platform {platform_share:.0%}, the "
            f"socket load generator {loadgen_share:.0%}, the kernel's network work "
            f"{softirq:.0%}, the rest other work on the machine); phase B took {wall:.0f} s"
        )
    show("live updates: sockets while trading over HTTP", figures)
    record("ws", figures)
    return figures


def _busy(before: dict[str, float], after: dict[str, float]) -> tuple[float, float]:
    """The share of all CPUs not idle between two psutil.cpu_times() readings, and the share
    in soft interrupts (the kernel's network work, loopback's receiving side included,
    which is charged to no process)."""
    fields = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    spent = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in fields}
    total = sum(spent.values())
    if not total:
        return 0.0, 0.0
    return 1 - (spent["idle"] + spent["iowait"]) / total, spent["softirq"] / total


def summarize(without: dict, with_ws: dict) -> dict[str, float | int | str]:
    opens_a = without["latencies"].get("open", [])
    opens_b = with_ws["http"]["open"]
    quotes, events = with_ws["quote_ms"], with_ws["event_ms"]
    quiet = with_ws["quiet_quote_ms"]
    figures: dict[str, float | int | str] = {
        "ws_clients": with_ws["sockets_open_at_end"],
        "ws_quote_p50_ms_no_trades": round(median(quiet), 2),
        "ws_quote_p99_ms_no_trades": round(percentile(quiet, 0.99), 2),
        **_quote_paths(with_ws, "quiet_quote", "_no_trades"),
        "ws_frames_per_s_no_trades": round(with_ws["quiet_frames_per_s"]),
        "ws_platform_cpu_us_per_frame_no_trades": round(
            with_ws["quiet_cpu_seconds_per_s"] / with_ws["quiet_frames_per_s"] * 1e6, 1
        ),
        "ws_connect_s": round(with_ws["connect_s"], 2),
        "ws_quote_p50_ms": round(median(quotes), 2),
        "ws_quote_p99_ms": round(percentile(quotes, 0.99), 2),
        **_quote_paths(with_ws, "quote", ""),
        "ws_quotes_measured": len(quotes),
        "ws_order_event_p50_ms": round(median(events), 2) if events else -1.0,
        "ws_order_event_p99_ms": round(percentile(events, 0.99), 2) if events else -1.0,
        "ws_order_events_measured": len(events),
        "ws_events_missing": with_ws["events_missing"],
        "ws_frames_per_s": round(with_ws["frames_per_s"]),
        "ws_http_trade_open_per_s": round(len(opens_b) / with_ws["seconds"]),
        "ws_http_trade_open_p99_ms": ms(percentile(opens_b, 0.99)) if opens_b else -1.0,
        "ws_http_trade_open_per_s_no_ws": round(len(opens_a) / without["seconds"]),
        "ws_http_trade_open_p99_ms_no_ws": ms(percentile(opens_a, 0.99)) if opens_a else -1.0,
        "ws_platform_cpu_s_per_s": round(with_ws["cpu_seconds"] / with_ws["seconds"], 2),
        "ws_platform_cpu_s_per_s_no_ws": round(without["cpu_seconds"] / without["seconds"], 2),
    }
    failures = {k: v for k, v in with_ws["statuses"].items() if not k.endswith(" 200")}
    if failures:
        figures["ws_http_non_200"] = str(failures)
    if with_ws["closes"]:
        figures["ws_closed_by_server"] = str(with_ws["closes"])
    return figures


def _quote_paths(result: dict, prefix: str, suffix: str) -> dict[str, float]:
    """Where quote latency goes: the first socket's (the pipeline up to a server's hub) and
    the spread from the first socket to the last (the fan-out), p50 and p99 over quotes."""
    first, spread = result[f"{prefix}_first_ms"], result[f"{prefix}_spread_ms"]
    if not first:
        return {}
    return {
        f"ws_quote_first_p50_ms{suffix}": round(median(first), 2),
        f"ws_quote_first_p99_ms{suffix}": round(percentile(first, 0.99), 2),
        f"ws_quote_spread_p50_ms{suffix}": round(median(spread), 2),
        f"ws_quote_spread_p99_ms{suffix}": round(percentile(spread, 0.99), 2),
    }


if __name__ == "__main__":
    run()

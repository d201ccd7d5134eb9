"""Merge a benchmark's figures into bench/results.json, keeping the other benchmarks' keys.

Each section's `_meta` says when and where it ran, with a yardstick of the machine's speed:
`calibration_ns`, the best time of a small fixed piece of pure Python. The machines these
benchmarks run on are shared VMs whose speed differs from one to the next by up to ~1.8x
(seen for the same commit); figures from two machines compare once scaled by it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import timeit
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")


def record(section: str, figures: dict[str, float | int | str]) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.update(figures)
    meta = data.setdefault("_meta", {})
    meta[section] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_cpu_model()}",
        "calibration_ns": calibration_ns(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def calibration_ns() -> float:
    """Nanoseconds for `sum(range(100))`, best of 7 rounds: the interpreter's speed on this
    machine now (lower is faster)."""
    rounds = timeit.repeat("sum(range(100))", number=20_000, repeat=7)
    return round(min(rounds) / 20_000 * 1e9, 1)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def show(title: str, figures: dict[str, float | int | str]) -> None:
    print(f"\n== {title}")
    for key, value in figures.items():
        text = (
            f"{value:,.2f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else value
        )
        print(f"  {key:<36} {text}")

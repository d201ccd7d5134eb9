"""Recovery time of the engine (issue #5): the newest snapshot holds 100,000 open
positions and the journal holds 100,000 entries after it (opens, closes and price
entries, as the engine would have journaled them). `EngineService.recover()` loads the
snapshot from PostgreSQL and replays the journal from Redis; the figure is its wall time.

Figures: recovery_s_100k (target < 5 s), and its parts, snapshot_load_s_100k and
journal_replay_entries_per_s.

Run: `.venv/bin/python -m bench recovery` (part of `make bench`).
"""

from __future__ import annotations

import asyncio
import random
import time

from bench.engine import BASE, NOW, USERS, engine_with_positions
from bench.results import record, show
from bench.stores import stores
from exness.adapters import keys
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.redis import connect
from exness.codec.commands import encode_command
from exness.codec.prices import encode_price_updates
from exness.codec.snapshot import SnapshotEntry, encode_state
from exness.domain import CloseTrade, CreateTrade, EngineConfig, PriceTick
from exness.services.engine import EngineService

POSITIONS = 100_000
JOURNAL = 100_000
SNAPSHOT_ID = "1-0"  # every journal entry written below gets a later id


def journal_entries(count: int, open_ids: list[tuple[str, str]], seed: int = 11) -> list[dict]:
    """What the engine journals: commands as the server sends them, and price entries."""
    rng = random.Random(seed)
    entries: list[dict] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.05:
            asset = rng.choice(tuple(BASE))
            tick = PriceTick(asset, BASE[asset] + rng.randint(-1000, 1000), NOW + n)
            entries.append({"k": "p", "s": f"{n + 2}-0", "d": encode_price_updates([tick])})
        elif roll < 0.5 and open_ids:
            order_id, user = open_ids.pop(rng.randrange(len(open_ids)))
            body = encode_command(CloseTrade(f"c{n}", user, order_id, 0), None)
            entries.append({"k": "c", "d": body})
        else:
            user, asset = rng.choice(USERS), rng.choice(tuple(BASE))
            order_id = f"journal-{n:09d}"
            open_ids.append((order_id, user))
            command = CreateTrade(
                f"o{n}",
                user,
                order_id,
                asset,
                rng.choice(("long", "short")),
                rng.randint(100, 5_000),
                rng.randint(1, 50),
                100,
                None,
                0,
            )
            entries.append({"k": "c", "d": encode_command(command, None)})
    return entries


async def measure(redis_url: str, database_url: str) -> dict[str, float | int | str]:
    engine = engine_with_positions(POSITIONS)
    # time stands still in this world: prices never go stale during the replay
    state = encode_state(engine.state())
    db = create_engine(database_url)
    client = connect(redis_url)
    try:
        store = SnapshotStore(db, keep=2)
        await store.save([SnapshotEntry(SNAPSHOT_ID, NOW, state)])
        open_ids = [(f"order-{i:09d}", USERS[i % len(USERS)]) for i in range(POSITIONS)]
        entries = journal_entries(JOURNAL, open_ids)
        for start in range(0, len(entries), 5_000):
            pipe = client.pipeline(transaction=False)
            for fields in entries[start : start + 5_000]:
                pipe.xadd(keys.JOURNAL, fields)
            await pipe.execute()
        last = (await client.xrevrange(keys.JOURNAL, count=1))[0][0].decode()
        await client.set(keys.APPLIED, last)  # the crashed engine had answered everything

        config = EngineConfig(price_max_age_us=10**15)
        started = time.perf_counter()
        loaded = await store.latest()
        snapshot_load_s = time.perf_counter() - started
        assert loaded is not None

        service = EngineService(client, store, config)
        report = await service.recover()
        assert report.replayed == JOURNAL, report
        assert service.engine.open_positions > POSITIONS // 2
        service.engine.check_invariant()
        return {
            "recovery_s_100k": round(report.seconds, 3),
            "snapshot_load_s_100k": round(snapshot_load_s, 3),
            "journal_replay_entries_per_s": round(
                JOURNAL / max(report.seconds - snapshot_load_s, 1e-9)
            ),
        }
    finally:
        await client.aclose()
        await db.dispose()


def run() -> dict[str, float | int | str]:
    with stores() as running:
        redis_url, database_url = running.redis_url, running.database_url
        figures = asyncio.run(measure(redis_url, database_url))
    show("engine recovery (100k positions in the snapshot, 100k journal entries after it)", figures)
    record("recovery", figures)
    return figures


if __name__ == "__main__":
    run()

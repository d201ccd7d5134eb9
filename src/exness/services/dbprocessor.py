"""The DB processor: the engine's write streams into PostgreSQL, in batches (ARCHITECTURE §3).

Two loops, side by side (group "dbprocessor"):
- Operations, at most one batch every DB_BATCH_INTERVAL_MS: read up to `batch_size` entries of
  each of db_operations_queue and price_stream with one XREADGROUP; decode them; write the
  operations and price bars in one main-DB transaction; then, atomically: dead-letter the bad
  entries, XACK everything and XDEL the acked operations (only this group reads them;
  price_stream is also read by the engine, so it is never deleted from here). A batch with only
  acks to send does it with one script call (ACK_SCRIPT), any other in one MULTI/EXEC.
- Snapshots: read snapshot_queue, save each in the snapshot DB as it was published (PostgreSQL
  parses and splits it; this process never decodes one), ack and delete it and trim the engine
  journal to the oldest kept snapshot. A snapshot is tens of MB under load and takes
  PostgreSQL a good fraction of a second: in a loop of their own they never hold back a
  trade's row (in one loop, a batch that met a snapshot wrote its trades ~400 ms late).
An `ops` entry (one per engine batch) holds many operations: each is written, or
dead-lettered with its own JSON, alone.

A batch's operations are one SQL statement (price bars add a locked read and an upsert, in one
transaction with it; see adapters/db/writer.py), run on a connection kept between batches and
given back to the pool whenever the streams run dry.

Nothing acknowledged is lost: an entry is acked only after its transaction commits, and
every write is idempotent, so a batch retried after a crash or an outage converges.
- A bad entry (undecodable, unknown op, refused by the database for its content) goes to
  `dead_letters` with its stream, id, data and error, is acked, and the rest goes on. When a
  batch's transaction fails for its data, the entries are retried one by one so that only
  the bad one is dead-lettered.
- Redis or PostgreSQL down: log, back off (exponential, capped), retry the same entries (they
  stay pending for this consumer and are re-read from its history), never ack.
- A consumer that died with entries pending: XAUTOCLAIM takes them over once idle long enough.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters import keys
from exness.adapters.consumer import DeadLetter, StreamConsumer, StreamEntry
from exness.adapters.db.rows import DataRejected, PriceEntry
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.db.writer import DbWriter
from exness.adapters.redis import connect
from exness.backoff import Backoff
from exness.codec import CodecError
from exness.codec.operations import decode_operation, decode_operations, encode_operation
from exness.codec.prices import decode_price_entry
from exness.domain.messages import DbOperation
from exness.log import get_logger
from exness.services.runtime import StopSignal, consumer_name, publish_status, run_service
from exness.settings import Settings, StoreUrls

__all__ = ["STREAMS", "DbProcessor", "is_data_error", "main"]

log = get_logger(__name__)

STREAMS = (keys.DB_OPERATIONS, keys.PRICE_STREAM)  # the operations loop's
SNAPSHOTS_PER_READ = 2  # each is big; more than one waits only after an outage
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0


def is_data_error(error: BaseException) -> bool:
    """Whether `error` is about the data written (so retrying it cannot help), as opposed to
    the database or Redis being unavailable."""
    if isinstance(error, DataRejected | CodecError | IntegrityError | DataError):
        return True
    if isinstance(error, DBAPIError):
        # SQLAlchemy does not always map the driver's error to DataError; the SQLSTATE says it:
        # class 22 (data exception) and 23 (integrity constraint violation).
        driver_error = getattr(error.orig, "__cause__", None) or error.orig
        sqlstate = getattr(driver_error, "sqlstate", None) or getattr(error.orig, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23"):
            return True
    # Raised before the statement reached the server (a value the driver cannot encode).
    return (
        isinstance(error, StatementError)
        and not isinstance(error, DBAPIError)
        and isinstance(error.orig, TypeError | ValueError | OverflowError)
    )


@dataclass(slots=True)
class Batch:
    entries: list[StreamEntry] = field(default_factory=list)
    operations: list[tuple[StreamEntry, DbOperation]] = field(default_factory=list)
    prices: list[tuple[StreamEntry, PriceEntry]] = field(default_factory=list)
    bad: list[DeadLetter] = field(default_factory=list)


def _decode_ops(batch: Batch, entry: StreamEntry, raw: bytes) -> None:
    """An `ops` entry (a batch of the engine's): each operation is written, or dead-lettered,
    alone."""
    bodies = None
    for index, item in enumerate(decode_operations(raw)):
        if not isinstance(item, CodecError):
            batch.operations.append((entry, item))
            continue
        if bodies is None:  # rare: read the array again for the bad operation's own JSON
            bodies = orjson.loads(raw)
        batch.bad.append(
            DeadLetter(entry, f"operation {index}: {item}", orjson.dumps(bodies[index]))
        )


def _journal_trim(floor: str) -> Callable[[Pipeline], None]:
    """Trim the engine journal up to `floor`, the oldest snapshot kept: the engine replays
    from its newest snapshot, so the journal before the oldest is needed by nobody."""

    def trim(pipe: Pipeline) -> None:
        pipe.xtrim(keys.JOURNAL, minid=floor, approximate=False)
        pipe.set(keys.JOURNAL_FLOOR, floor)

    return trim


class DbProcessor:
    def __init__(
        self,
        redis: aioredis.Redis,
        db: AsyncEngine,
        snapshots: SnapshotStore | None = None,
        *,
        consumer: str | None = None,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_min_idle_ms: int = 30_000,
        claim_interval_s: float = 15.0,
        status_interval_s: float = 2.0,
        price_history_days: int = 90,
        retention_interval_s: float = 600.0,
        price_start: str = "0",
        batch_interval_s: float = 0.0,
    ) -> None:
        self.redis = redis
        consumer = consumer or consumer_name("dbprocessor")
        self.streams = StreamConsumer(
            redis,
            group=keys.DBPROCESSOR_GROUP,
            consumer=consumer,
            streams=STREAMS,
            owned=(keys.DB_OPERATIONS,),  # price_stream is the engine's too
            batch_size=batch_size,
            block_ms=block_ms,
            claim_min_idle_ms=claim_min_idle_ms,
        )
        self.snapshot_stream = StreamConsumer(
            redis,
            group=keys.DBPROCESSOR_GROUP,
            consumer=consumer,
            streams=(keys.SNAPSHOTS,),
            owned=(keys.SNAPSHOTS,),
            batch_size=SNAPSHOTS_PER_READ,
            block_ms=block_ms,
            claim_min_idle_ms=claim_min_idle_ms,
        )
        # one connection kept between batches: a checkout per batch costs a ping's round trips
        self.writer = DbWriter(db, keep_connection=True)
        self.snapshots = snapshots or SnapshotStore(db)
        self.claim_interval_s = claim_interval_s
        self.status_interval_s = status_interval_s
        self.price_history_days = price_history_days
        self.retention_interval_s = retention_interval_s
        # price_stream is capped (keys.PRICE_STREAM_MAXLEN): reading it from the start on the
        # first run turns the history Redis still holds into candles.
        self.price_start = price_start
        # a batch starts at most this often, so that a busy engine's entries share one
        # transaction (each costs PostgreSQL and this process about as much as ten rows)
        self.batch_interval_s = batch_interval_s
        self._ready = False
        self._next_claim = 0.0
        self._next_retention = 0.0
        self._next_status = 0.0
        # figures for the status key
        self.batches = 0
        self.written = 0
        self.dead_lettered = 0
        self.claimed = 0
        self.last_error: str | None = None
        self.last_batch_at: int | None = None

    @property
    def consumer(self) -> str:
        return self.streams.consumer

    # ---- the loop ----------------------------------------------------------------------------

    async def setup(self) -> None:
        await self.streams.ensure_groups({keys.PRICE_STREAM: self.price_start})
        await self.snapshot_stream.ensure_groups()
        self._ready = True

    async def run(self, stop: StopSignal) -> None:
        """Both loops until `stop`; the batch under way in each is finished first."""
        try:
            await asyncio.gather(
                self._loop(stop, self.run_operations, self.streams, self.batch_interval_s),
                self._loop(stop, self.run_snapshots, self.snapshot_stream, 0.0),
            )
        finally:
            await self.close()

    async def _loop(
        self,
        stop: StopSignal,
        round_: Callable[[], Awaitable[int]],
        streams: StreamConsumer,
        interval_s: float,
    ) -> None:
        """`round_` until `stop`, a round starting at most every `interval_s` while it finds
        entries, backing off while Redis or PostgreSQL fails."""
        backoff = Backoff(initial=BACKOFF_START_S, maximum=BACKOFF_MAX_S)
        while not stop.is_set:
            started = time.monotonic()
            try:
                if await round_() and interval_s > 0:
                    rest = started + interval_s - time.monotonic()
                    if rest > 0 and await stop.wait(rest):
                        break
                backoff.reset()
            except Exception as error:
                # Redis or PostgreSQL unavailable (or a fault to fix): nothing was acked, so
                # the same entries are read again from this consumer's pending list.
                self.last_error = repr(error)
                streams.read_backlog_again()
                if isinstance(error, ResponseError) and "NOGROUP" in str(error):
                    self._ready = False  # Redis lost its data: recreate the groups
                delay = backoff.next_delay()
                log.warning("batch failed; retrying", error=repr(error), retry_in_s=delay)
                if await stop.wait(delay):
                    break
            await self._maybe_publish_status()

    async def close(self) -> None:
        """Give back the database connection kept between batches."""
        await self.writer.release()

    async def run_once(self) -> int:
        """One round of each loop, one after the other; the number of entries handled."""
        return await self.run_operations() + await self.run_snapshots()

    async def run_operations(self) -> int:
        """Take one batch of operations and prices (claim and retention when due); the number
        of entries handled."""
        if not self._ready:
            await self.setup()
        now = time.monotonic()
        if now >= self._next_claim:
            await self.claim()
            self._next_claim = now + self.claim_interval_s
        if now >= self._next_retention:
            self._next_retention = now + self.retention_interval_s  # a failure waits its turn
            await self.apply_retention()
        entries = await self.streams.read()
        if entries:
            await self._process(entries)
        else:
            await self.writer.release()  # idle: the pool may have the connection back
        return len(entries)

    async def run_snapshots(self) -> int:
        """Save the snapshots published since the last round (waiting up to `block_ms` for
        one), then ack them and trim the journal; the number of entries handled."""
        if not self._ready:
            await self.setup()
        entries = await self.snapshot_stream.read()
        if not entries:
            return 0
        saved, bad = 0, []
        for entry in entries:
            if not entry.fields:  # deleted while pending: nothing to save, only to ack
                continue
            body = entry.fields.get(b"data")
            try:
                if body is None:
                    raise CodecError('entry has no "data" field')
                await self.snapshots.save_published(body)
                saved += 1
            except Exception as error:
                if not is_data_error(error):
                    raise
                bad.append(DeadLetter(entry, f"refused by the database: {error!r}"))
        floor = await self.snapshots.oldest_kept_journal_id() if saved else None
        also = None if floor is None else _journal_trim(floor)
        await self.snapshot_stream.acknowledge(entries, bad, also)
        self.written += saved
        self.dead_lettered += len(bad)
        return len(entries)

    async def claim(self) -> int:
        """Take over the entries other consumers left pending longer than the minimum idle."""
        claimed = await self.streams.claim() + await self.snapshot_stream.claim()
        self.claimed += claimed
        return claimed

    async def apply_retention(self) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=self.price_history_days)
        dropped = await self.writer.delete_bars_before(cutoff)
        if dropped:
            log.info("dropped old price bars", bars=dropped, before=cutoff.isoformat())
        return dropped

    # ---- one batch ---------------------------------------------------------------------------

    def _decode(self, entries: list[StreamEntry]) -> Batch:
        batch = Batch(entries)
        for entry in entries:
            if not entry.fields:  # deleted while pending: nothing to write, only to ack
                continue
            data = entry.fields.get(b"data")
            try:
                if entry.stream == keys.DB_OPERATIONS and b"ops" in entry.fields:
                    _decode_ops(batch, entry, entry.fields[b"ops"])
                    continue
                if data is None:
                    raise CodecError('entry has no "data" field')
                if entry.stream == keys.DB_OPERATIONS:
                    batch.operations.append((entry, decode_operation(data)))
                else:
                    ticks, problems = decode_price_entry(entry.entry_id, data)
                    if problems:
                        log.warning(
                            "price updates skipped", entry=entry.entry_id, problems=problems
                        )
                    batch.prices.append((entry, PriceEntry(entry.entry_id, ticks)))
            except CodecError as error:
                batch.bad.append(DeadLetter(entry, str(error)))
        return batch

    async def _process(self, entries: list[StreamEntry]) -> None:
        batch = self._decode(entries)
        try:
            await self._write_main([op for _, op in batch.operations], [p for _, p in batch.prices])
        except Exception as error:
            if not is_data_error(error):
                raise
            log.warning(
                "batch refused by the database; writing entries one by one", error=repr(error)
            )
            await self._write_main_one_by_one(batch)
        await self.streams.acknowledge(batch.entries, batch.bad)
        self.batches += 1
        self.written += len(batch.operations) + len(batch.prices)
        self.dead_lettered += len(batch.bad)
        self.last_batch_at = time.time_ns() // 1000

    async def _write_main(self, operations: list[DbOperation], prices: list[PriceEntry]) -> None:
        if operations or prices:
            await self.writer.write(operations, prices)

    async def _write_main_one_by_one(self, batch: Batch) -> None:
        """Each entry in its own transaction, in stream order; the refused ones become bad."""
        good_operations, good_prices = [], []
        for entry, operation in batch.operations:
            try:
                await self.writer.write([operation])
                good_operations.append((entry, operation))
            except Exception as error:
                if not is_data_error(error):
                    raise
                # an operation of an `ops` entry is dead-lettered alone
                alone = None if b"data" in entry.fields else encode_operation(operation)
                batch.bad.append(DeadLetter(entry, f"refused by the database: {error!r}", alone))
        for entry, price_entry in batch.prices:
            try:
                await self.writer.write([], [price_entry])
                good_prices.append((entry, price_entry))
            except Exception as error:
                if not is_data_error(error):
                    raise
                batch.bad.append(DeadLetter(entry, f"refused by the database: {error!r}"))
        batch.operations, batch.prices = good_operations, good_prices

    # ---- status ------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        pending, lag = await self.streams.backlog()
        snapshots_pending, snapshots_lag = await self.snapshot_stream.backlog()
        pending += snapshots_pending
        lag = None if lag is None or snapshots_lag is None else lag + snapshots_lag
        return {
            "consumer": self.consumer,
            "batches": self.batches,
            "written": self.written,
            "deadLettered": self.dead_lettered,
            "claimed": self.claimed,
            "pending": pending,
            "lag": lag,
            "lastBatchAt": self.last_batch_at,
            "lastError": self.last_error,
        }

    async def _maybe_publish_status(self) -> None:
        now = time.monotonic()
        if now < self._next_status:
            return
        self._next_status = now + self.status_interval_s
        try:
            await publish_status(self.redis, keys.DBPROCESSOR_STATUS, **await self.status())
        except Exception as error:  # a status is best effort; the loop reports Redis outages
            log.debug("status not published", error=repr(error))


async def serve(settings: Settings, stores: StoreUrls, stop: StopSignal) -> None:
    from exness.adapters.db.session import create_engine

    client = connect(stores.redis_url)
    db = create_engine(stores.database_url)
    same = stores.snapshot_url == stores.database_url
    snapshot_db = db if same else create_engine(stores.snapshot_url)
    processor = DbProcessor(
        client,
        db,
        SnapshotStore(snapshot_db, keep=settings.snapshots_kept),
        price_history_days=settings.price_history_days,
        batch_interval_s=settings.db_batch_interval_ms / 1000,
    )
    log.info("dbprocessor running", consumer=processor.consumer)
    try:
        await processor.run(stop)
    finally:
        await client.aclose()
        await db.dispose()
        if snapshot_db is not db:
            await snapshot_db.dispose()
        log.info("dbprocessor stopped", written=processor.written, batches=processor.batches)


def main(settings: Settings) -> None:
    stores = settings.stores()
    # The store of record trails the engine by design (the engine answers from its journal):
    # when the cores are contended, the trading path (server, engine, poller, Valkey) goes
    # first, and this process's lag grows instead (its batches grow with it and catch up).
    os.nice(settings.background_nice)
    run_service(lambda stop: serve(settings, stores, stop))

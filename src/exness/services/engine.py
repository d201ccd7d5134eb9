"""The engine service: the pure core, fed from Redis in batches, journaled, recoverable.

Loop: take everything waiting (commands from both queues, price entries after the cursor)
into the journal in one atomic step; apply it to the core; write every reply, price key,
DB operation, the traders' live events and the applied position in one MULTI/EXEC; now and
then publish a snapshot, from a forked child so the loop never waits for it
(adapters/forked_snapshot.py). Two round trips per batch, however large the batch.

Live events (SPEC §8): every order event goes to its trader as it happens, and after the
batch, the account (§7.6) of each trader the batch touched. A batch is what one `take`
journaled: the entries after `engine:applied` are exactly the one batch whose outputs a
crash lost, and recovery re-emits them as one batch again, so it sends exactly what the
lost batch would have (the same messages, numbered the same, adapters/events.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.adapters.bus import COMMAND, BatchOutputs, EngineBus, InputWaiter, JournalEntry
from exness.adapters.forked_snapshot import ForkedSnapshot
from exness.adapters.redis import connect
from exness.backoff import Backoff
from exness.codec import CodecError
from exness.codec.commands import BadCommand, decode_command
from exness.codec.events import account_event, order_event, order_owner
from exness.codec.prices import decode_price_entry, encode_price_key
from exness.codec.replies import encode_reply
from exness.codec.snapshot import SnapshotEntry, decode_state, encode_snapshot, encode_state
from exness.codec.stream_ids import stream_id_key, stream_id_us
from exness.domain import Engine, EngineConfig, Rejection, Reply
from exness.domain.errors import DeadlineExceeded
from exness.domain.messages import DbOperation, db_operations
from exness.log import get_logger
from exness.services.runtime import StopSignal, publish_status, run_service, tune_gc
from exness.settings import Settings, StoreUrls

__all__ = ["EngineService", "RecoveryError", "RecoveryReport", "engine_config", "main"]

log = get_logger(__name__)

REPLAY_CHUNK = 20_000
LATE = DeadlineExceeded.code  # not an outcome: the request was not applied


class SnapshotSource(Protocol):
    async def latest(self) -> SnapshotEntry | None: ...


class RecoveryError(RuntimeError):
    """The durable state cannot rebuild the engine (say, the journal was trimmed too far)."""


@dataclass(slots=True)
class RecoveryReport:
    snapshot_journal_id: str | None
    replayed: int
    re_emitted: int
    seconds: float


class EngineService:
    def __init__(
        self,
        client: aioredis.Redis,
        snapshots: SnapshotSource,
        config: EngineConfig,
        snapshot_interval_s: float = 20.0,
        waiter: InputWaiter | None = None,
        max_commands: int = 1024,
        max_price_entries: int = 256,
        forked: ForkedSnapshot | None = None,
    ) -> None:
        self.bus = EngineBus(client)
        self.client = client
        self.snapshots = snapshots
        self.config = config
        self.snapshot_interval_s = snapshot_interval_s
        self.waiter = waiter
        self.max_commands = max_commands
        self.max_price_entries = max_price_entries
        # None: the periodic snapshot is encoded in this process, the loop waiting for it
        self.forked = forked
        self.engine = Engine(config)
        self.applied_id = "0-0"
        self.price_cursor = "0-0"
        self._snapshot_id = "0-0"  # journal id of the last snapshot published
        self._touched_assets: set[str] = set()
        self.batches = 0
        self.entries = 0

    # ---- recovery ----------------------------------------------------------------------------

    async def recover(self, emit: bool = True) -> RecoveryReport:
        """Rebuild the state from the newest snapshot and the journal after it.

        With `emit`, the outputs of entries applied after the last written batch are sent
        (they died with the previous process); without it, nothing is written (a read-only
        replay, for reconciliation).
        """
        started = time.perf_counter()
        snapshot = await self.snapshots.latest()
        position = "0-0"
        if snapshot is not None:
            self.engine = Engine.from_state(decode_state(snapshot.state), self.config)
            position = snapshot.journal_id
        floor = await self.bus.journal_floor()
        if floor is not None and stream_id_key(position) < stream_id_key(floor):
            raise RecoveryError(
                f"the newest snapshot covers the journal up to {position}, but the journal was "
                f"trimmed up to {floor}: restore the snapshot database"
            )
        applied = await self.bus.applied_id() or "0-0"
        applied_key = stream_id_key(applied)
        replayed = re_emitted = 0
        lost = BatchOutputs()  # the outputs of the entries after `applied`: one batch
        while entries := await self.bus.read_journal(position, REPLAY_CHUNK):
            for entry in entries:
                if stream_id_key(entry.id) > applied_key:
                    self._apply(entry, lost)  # its outputs never left: send them now
                    re_emitted += 1
                else:
                    self._apply(entry, None)
            replayed += len(entries)
            position = entries[-1].id
        if emit and re_emitted:
            self._finish_batch(lost)
            await self.bus.write(lost, position)
        self._touched_assets.clear()
        self.applied_id = max(position, applied, key=stream_id_key)
        self._snapshot_id = snapshot.journal_id if snapshot else "0-0"
        self.price_cursor = await self.bus.price_cursor()
        report = RecoveryReport(
            snapshot.journal_id if snapshot else None,
            replayed,
            re_emitted,
            time.perf_counter() - started,
        )
        log.info(
            "engine recovered",
            snapshot=report.snapshot_journal_id,
            replayed=replayed,
            re_emitted=re_emitted,
            open_positions=self.engine.open_positions,
            seconds=round(report.seconds, 3),
        )
        return report

    async def catch_up(self) -> int:
        """Apply and answer the journal entries after `applied_id` that this process has not
        applied; how many there were.

        The intake moves input into the journal in one atomic script; if Redis runs it and then
        dies (or the connection drops) before its answer arrives, the input is in the journal
        but this process never saw it. Taking the next batch without it would apply later input
        to a state that misses it, and a restart (which replays the journal in order) would then
        disagree with what was answered. So after any Redis failure the engine first applies,
        in journal order, whatever the journal holds beyond what it applied: what a restart
        would do."""
        caught = 0
        while entries := await self.bus.read_journal(self.applied_id, REPLAY_CHUNK):
            await self._apply_batch(entries)
            caught += len(entries)
        if caught:
            log.warning(
                "applied journal entries taken by an intake whose answer was lost",
                entries=caught,
                applied=self.applied_id,
            )
        return caught

    # ---- applying journal entries ------------------------------------------------------------

    def _apply(self, entry: JournalEntry, outputs: BatchOutputs | None) -> None:
        """Apply one journal entry; collect its outputs unless they were already written."""
        if entry.kind == COMMAND:
            self._apply_command(entry, outputs)
        else:
            self._apply_prices(entry, outputs)

    def _apply_command(self, entry: JournalEntry, outputs: BatchOutputs | None) -> None:
        decoded = decode_command(entry.data, stream_id_us(entry.id))
        if isinstance(decoded, BadCommand):
            if outputs is not None:
                log.warning("bad command skipped", journal_id=entry.id, reason=decoded.message)
                reply = decoded.reply()
                if reply is not None and decoded.reply_to:
                    outputs.replies[decoded.reply_to].append(encode_reply(reply))
            return
        command = decoded.command
        events = self.engine.apply(command)
        if outputs is None:
            return
        answer = events[0]
        assert isinstance(answer, Reply)  # the engine answers first
        encoded = encode_reply(answer)
        if decoded.reply_to:
            outputs.replies[decoded.reply_to].append(encoded)
        if command.request_id.startswith(keys.IDEMPOTENT_PREFIX) and answer.code != LATE:
            outputs.outcomes[command.request_id] = encoded
        operations = db_operations(events)
        if operations:
            outputs.db_operations.extend(operations)
            self._collect_live(operations, outputs)

    def _apply_prices(self, entry: JournalEntry, outputs: BatchOutputs | None) -> None:
        try:
            ticks, problems = decode_price_entry(entry.source_id, entry.data)
        except CodecError as error:
            if outputs is not None:
                log.warning("bad price entry skipped", source_id=entry.source_id, reason=str(error))
            return
        if problems and outputs is not None:
            log.warning("price updates skipped", source_id=entry.source_id, reasons=problems)
        fired: list[DbOperation] = []
        for tick in ticks:
            try:
                events = self.engine.on_price(tick)
            except Rejection as rejection:  # the codec already checks; belt and braces
                log.warning("price refused", asset=tick.asset, reason=rejection.message)
                continue
            self._touched_assets.add(tick.asset)
            if events and outputs is not None:
                fired.extend(db_operations(events))
        if fired and outputs is not None:
            outputs.db_operations.extend(fired)
            self._collect_live(fired, outputs)

    def _collect_live(self, operations: list[DbOperation], outputs: BatchOutputs) -> None:
        """The order events of one journal entry, each to its trader, in order; the traders
        are noted for their account at the end of the batch."""
        for operation in operations:
            trader = order_owner(operation)
            if "\n" in trader:  # the pub/sub payload is line-based; ids never hold one
                log.warning("no live events for a trader id with a newline", trader=trader)
                continue
            outputs.touched[trader] = None
            body = order_event(operation)
            if body is not None:
                outputs.live.append((trader, body))

    def _finish_batch(self, outputs: BatchOutputs) -> None:
        """What a batch sends once it is applied: the latest price of every asset it moved
        and the account of every trader it touched."""
        self._collect_prices(outputs)
        for trader in outputs.touched:
            outputs.live.append((trader, account_event(self.engine.account(trader))))
        outputs.touched.clear()

    def _collect_prices(self, outputs: BatchOutputs) -> None:
        for asset in self._touched_assets:
            quote = self.engine.quote(asset)
            if quote is not None:
                outputs.prices[asset] = encode_price_key(asset, quote)
        self._touched_assets.clear()

    # ---- the loop ----------------------------------------------------------------------------

    async def step(self) -> int:
        """Take, apply and answer one batch; the number of journal entries it held."""
        cursor, entries = await self.bus.take(self.max_commands, self.max_price_entries)
        self.price_cursor = cursor
        if not entries:
            return 0
        await self._apply_batch(entries)
        self.batches += 1
        self.entries += len(entries)
        return len(entries)

    async def _apply_batch(self, entries: list[JournalEntry]) -> None:
        """Apply journal entries in order and write all their outputs, and how far the journal
        is applied, in one go."""
        outputs = BatchOutputs()
        for entry in entries:
            self._apply(entry, outputs)
        self._finish_batch(outputs)
        await self._write(outputs, entries[-1].id)
        self.applied_id = entries[-1].id

    async def _write(self, outputs: BatchOutputs, applied_id: str) -> None:
        """Write a batch's outputs, retrying until Redis takes them.

        The batch is already in the journal and applied in memory, so its outputs must go
        out eventually; if this process dies first, recovery re-emits them.
        """
        backoff = Backoff()
        while True:
            try:
                await self.bus.write(outputs, applied_id)
                return
            except (RedisError, OSError) as error:
                delay = backoff.next_delay()
                log.warning("writing a batch failed; retrying", error=repr(error), delay=delay)
                await asyncio.sleep(delay)

    async def periodic_snapshot(self) -> None:
        """A snapshot in a forked child when there is one, else here; none while the last
        child still runs or nothing was applied since the last snapshot."""
        if self.forked is None:
            await self.snapshot()
        elif self.applied_id != self._snapshot_id:
            self.forked.start(self.engine, self.applied_id)

    def _reap_snapshot(self, timeout_s: float | None = None) -> None:
        """Note a forked snapshot that ended (waiting up to `timeout_s` for it, if given)."""
        if self.forked is None:
            return
        done = self.forked.poll() if timeout_s is None else self.forked.wait(timeout_s)
        if done is None:
            return
        if not done.published:
            log.warning(
                "snapshot child failed; trying again next interval", journal_id=done.journal_id
            )
            return
        if stream_id_key(done.journal_id) > stream_id_key(self._snapshot_id):
            self._snapshot_id = done.journal_id
        log.info(
            "snapshot published",
            journal_id=done.journal_id,
            loop_paused_ms=round(done.pause_s * 1000, 2),
            child_s=round(done.took_s, 3),
        )

    async def snapshot(self) -> None:
        """A snapshot encoded and published by this process (its loop waits for it)."""
        if self.applied_id == self._snapshot_id:
            return
        state = encode_state(self.engine.state())
        entry = SnapshotEntry(self.applied_id, time.time_ns() // 1000, state)
        await self.bus.publish_snapshot(encode_snapshot(entry))
        self._snapshot_id = self.applied_id
        log.info(
            "snapshot published",
            journal_id=self.applied_id,
            open_positions=self.engine.open_positions,
        )

    async def _publish_status(self) -> None:
        await publish_status(
            self.client,
            keys.ENGINE_STATUS,
            applied=self.applied_id,
            open_positions=self.engine.open_positions,
            batches=self.batches,
            entries=self.entries,
        )

    async def _check_durable_state(self) -> None:
        """Stop if Redis lost writes this process saw acknowledged (a store crash without
        fsync): continuing would diverge from the journal; a restart re-syncs with it."""
        applied = await self.bus.applied_id() or "0-0"
        if stream_id_key(applied) < stream_id_key(self.applied_id):
            raise RecoveryError(
                f"Redis lost engine state (applied {applied}, expected {self.applied_id}); "
                "restarting from the durable snapshot and journal"
            )

    async def run(self, stop: StopSignal) -> None:
        next_snapshot = time.monotonic() + self.snapshot_interval_s
        next_status = 0.0
        backoff = Backoff()
        catch_up = False  # after a Redis failure: the journal may hold input not yet applied
        while not stop.is_set:
            try:
                if catch_up:
                    await self.catch_up()
                    catch_up = False
                now = time.monotonic()
                if now >= next_status:
                    await self._check_durable_state()
                    await self._publish_status()
                    self._reap_snapshot()
                    next_status = now + 1.0
                if now >= next_snapshot:
                    await self.periodic_snapshot()
                    next_snapshot = now + self.snapshot_interval_s
                if await self.step():
                    backoff.reset()
                    continue
                if self.waiter is not None:
                    await self.waiter.wait(self.price_cursor, timeout=1.0, stop=stop.event)
                else:
                    await stop.wait(0.005)
            except (RedisError, OSError) as error:
                catch_up = True
                delay = backoff.next_delay()
                log.warning("redis unavailable; retrying", error=repr(error), delay=delay)
                await stop.wait(delay)
        self._reap_snapshot(timeout_s=30.0)
        await self.snapshot()  # a clean stop leaves nothing to replay


def engine_config(settings: Settings) -> EngineConfig:
    """The core's configuration, the same for the service and for every replay of its journal
    (reconcile): what it forgets and when must not differ between them."""
    return EngineConfig(
        price_max_age_us=settings.price_max_age_us,
        spread_markup_bps=settings.spread_markup_bps,
        resent_prefix=keys.IDEMPOTENT_PREFIX,  # only retries with an Idempotency-Key
    )


async def serve(settings: Settings, stores: StoreUrls, stop: StopSignal) -> None:
    from exness.adapters.db.session import create_engine
    from exness.adapters.db.snapshots import SnapshotStore

    client = connect(stores.redis_url)
    db = create_engine(stores.snapshot_url)
    waiter = InputWaiter(stores.redis_url)
    service = EngineService(
        client,
        SnapshotStore(db, keep=settings.snapshots_kept),
        engine_config(settings),
        snapshot_interval_s=settings.snapshot_interval_s,
        waiter=waiter,
        forked=ForkedSnapshot(stores.redis_url),
    )
    try:
        await service.recover()
        tune_gc()  # the recovered state is long-lived (ARCHITECTURE §2)
        log.info("engine running", applied=service.applied_id)
        await service.run(stop)
    finally:
        await waiter.close()
        await client.aclose()
        await db.dispose()
        log.info("engine stopped", applied=service.applied_id)


def main(settings: Settings) -> None:
    stores = settings.stores()
    run_service(lambda stop: serve(settings, stores, stop))

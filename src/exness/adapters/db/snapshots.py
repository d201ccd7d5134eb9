"""Engine snapshots in the snapshot database (SNAPSHOT_URL): save, prune, load the newest.

A row splits a snapshot (codec/snapshot.py) into its big parts (SPLIT_KEYS: balances,
open_orders, closed_orders) and the rest (`state`), and orders rows by the journal id they
include, compared as (ms, seq) numbers: "10-0" is newer than "9-0".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exness.adapters.db.models import Snapshot
from exness.adapters.db.rows import DataRejected, parse_stream_id, us_to_datetime
from exness.codec.snapshot import KEY_ORDER, SPLIT_KEYS, SnapshotEntry

__all__ = ["SnapshotStore"]

SNAPSHOTS = cast(Table, Snapshot.__table__)


def snapshot_row(entry: SnapshotEntry) -> dict[str, Any]:
    journal_ms, journal_seq = parse_stream_id(entry.journal_id)
    state = dict(entry.state)
    try:
        parts = {key: state.pop(key) for key in SPLIT_KEYS}
    except KeyError as missing:
        raise DataRejected(f"snapshot {entry.journal_id} has no {missing}") from None
    open_orders = parts["open_orders"]
    return {
        "journal_id": entry.journal_id,
        "journal_ms": journal_ms,
        "journal_seq": journal_seq,
        **parts,
        "state": state,
        "open_positions": len(open_orders) if isinstance(open_orders, list | dict) else 0,
        "created_at": us_to_datetime(entry.created_at),
    }


def _entry(row: Any) -> SnapshotEntry:
    # JSONB keeps no key order: put the keys back in the order encode_state() writes them.
    rest = {**row.state, "balances": row.balances, "open_orders": row.open_orders}
    rest["closed_orders"] = row.closed_orders
    state = {key: rest.pop(key) for key in KEY_ORDER if key in rest}
    state.update(sorted(rest.items()))
    created = row.created_at - us_to_datetime(0)
    created_us = (created.days * 86_400 + created.seconds) * 1_000_000 + created.microseconds
    return SnapshotEntry(row.journal_id, created_us, state)


class SnapshotStore:
    """The newest `keep` engine snapshots."""

    def __init__(self, engine: AsyncEngine, keep: int = 5) -> None:
        if keep < 1:
            raise ValueError("keep at least one snapshot")
        self.engine = engine
        self.keep = keep

    async def latest(self) -> SnapshotEntry | None:
        """The snapshot with the greatest journal id, as it was saved."""
        table = SNAPSHOTS
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(table)
                    .order_by(
                        table.c.journal_ms.desc(), table.c.journal_seq.desc(), table.c.id.desc()
                    )
                    .limit(1)
                )
            ).first()
        return None if row is None else _entry(row)

    async def save(self, entries: Sequence[SnapshotEntry]) -> None:
        """Insert `entries` (one already saved at the same journal id is skipped) and prune to
        the newest `keep`, in one transaction."""
        if not entries:
            return
        async with self.engine.begin() as connection:
            await self.save_in(connection, entries)

    async def save_in(self, connection: AsyncConnection, entries: Sequence[SnapshotEntry]) -> None:
        """The same, in a transaction the caller holds."""
        table = SNAPSHOTS
        rows = [snapshot_row(entry) for entry in entries]
        statement = insert(table).on_conflict_do_nothing(
            index_elements=[table.c.journal_ms, table.c.journal_seq]
        )
        await connection.execute(statement, rows)
        newest = (
            select(table.c.id)
            .order_by(table.c.journal_ms.desc(), table.c.journal_seq.desc(), table.c.id.desc())
            .limit(self.keep)
        )
        await connection.execute(delete(table).where(table.c.id.not_in(newest)))

    async def oldest_kept_journal_id(self) -> str | None:
        """The journal id of the oldest snapshot kept: the journal is needed from there on."""
        table = SNAPSHOTS
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(table.c.journal_id)
                    .order_by(table.c.journal_ms, table.c.journal_seq, table.c.id)
                    .limit(1)
                )
            ).first()
        return None if row is None else str(row.journal_id)

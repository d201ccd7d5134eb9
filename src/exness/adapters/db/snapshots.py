"""Engine snapshots in the snapshot database (SNAPSHOT_URL): save, prune, load the newest.

A row splits a snapshot (codec/snapshot.py) into its big parts (SPLIT_KEYS: balances,
open_orders, closed_orders) and the rest (`state`), and orders rows by the journal id they
include, compared as (ms, seq) numbers: "10-0" is newer than "9-0".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exness.adapters.db.models import Snapshot
from exness.adapters.db.rows import DataRejected, us_to_datetime
from exness.codec.snapshot import KEY_ORDER, SPLIT_KEYS, SnapshotEntry, encode_snapshot

__all__ = ["SnapshotStore"]

SNAPSHOTS = cast(Table, Snapshot.__table__)

# One published snapshot (encode_snapshot's JSON, the only parameter) into a row: PostgreSQL
# parses it once and splits the state into SPLIT_KEYS and the rest. A snapshot that lacks a
# part leaves a NOT NULL column empty, and a journal id that is not `<ms>[-<seq>]` fails its
# cast: both refused as data (SQLSTATE classes 23 and 22), so the DB processor dead-letters it.
_INSERT = text(
    f"""
    WITH published AS (
        SELECT body->>'journalId' AS journal_id,
               (body->>'createdAt')::int8 AS created_us,
               body->'state' AS state
        FROM (SELECT CAST(CAST(:body AS text) AS jsonb) AS body) AS raw
    )
    INSERT INTO snapshots (
        journal_id, journal_ms, journal_seq, {", ".join(SPLIT_KEYS)},
        state, open_positions, created_at
    )
    SELECT journal_id,
           split_part(journal_id, '-', 1)::int8,
           coalesce(nullif(split_part(journal_id, '-', 2), ''), '0')::int8,
           {", ".join(f"state->'{key}'" for key in SPLIT_KEYS)},
           state - ARRAY[{", ".join(f"'{key}'" for key in SPLIT_KEYS)}],
           CASE jsonb_typeof(state->'open_orders')
               WHEN 'array' THEN jsonb_array_length(state->'open_orders')
               WHEN 'object' THEN (SELECT count(*) FROM jsonb_object_keys(state->'open_orders'))
               ELSE 0
           END,
           timestamptz 'epoch' + created_us * interval '1 microsecond'
    FROM published
    ON CONFLICT (journal_ms, journal_seq) DO NOTHING
    """
)


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
            for entry in entries:
                await connection.execute(_INSERT, {"body": encode_snapshot(entry).decode()})
            await self._prune(connection)

    async def save_published(self, body: bytes) -> None:
        """`save` of one snapshot as the engine published it (encode_snapshot's JSON), which
        PostgreSQL parses and splits: this process never decodes it (tens of MB under load)."""
        try:
            text_body = body.decode()
        except UnicodeDecodeError as error:
            raise DataRejected(f"a snapshot that is not UTF-8: {error}") from None
        async with self.engine.begin() as connection:
            await connection.execute(_INSERT, {"body": text_body})
            await self._prune(connection)

    async def _prune(self, connection: AsyncConnection) -> None:
        table = SNAPSHOTS
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

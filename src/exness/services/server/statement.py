"""The trader's statement (SPEC §7.7): `GET /trade/history?format=csv`.

The same rows as the history's JSON for the same filter and sort, every one of them (limit
and offset do not apply), as CSV: a header row of the JSON field names (HistoryTrade's, in
its order), then one line per trade, cells as views.statement_row writes them. The rows come
from a server-side cursor a chunk at a time and each chunk is sent as soon as it is written,
so a statement of any size costs the server one chunk of memory; its database connection is
held until the last chunk is sent (or the client goes away).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime

from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters.db.queries import HistoryFilter, stream_trade_history
from exness.log import get_logger
from exness.services.server.schemas import HISTORY_FIELDS
from exness.services.server.views import history_fields, statement_row

__all__ = ["CHUNK_ROWS", "csv_statement", "statement_chunks"]

log = get_logger(__name__)

CHUNK_ROWS = 1000  # rows per cursor fetch, and per chunk sent


async def statement_chunks(
    db: AsyncEngine, query: HistoryFilter, now: datetime, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[bytes]:
    """The statement as UTF-8 CSV (RFC 4180: CRLF line ends, quoted where needed), the header
    first, then a chunk per `chunk_rows` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HISTORY_FIELDS)
    yield buffer.getvalue().encode()
    rows = 0
    try:
        # closed with this generator (a client that goes away): the cursor's connection goes
        # back to the pool at once, not whenever the garbage collector finds the generator
        async with aclosing(stream_trade_history(db, query, chunk_rows)) as chunks:
            async for chunk in chunks:
                buffer.seek(0)
                buffer.truncate()
                writer.writerows(statement_row(history_fields(row, now)) for row in chunk)
                rows += len(chunk)
                yield buffer.getvalue().encode()
    except Exception:
        # The status line and the first rows are gone already: all that can be done is to stop
        # (the client sees a cut transfer, not a complete-looking statement) and say why here.
        log.exception("statement cut short", user=query.user_id, rows=rows)
        raise


def csv_statement(db: AsyncEngine, query: HistoryFilter) -> StreamingResponse:
    now = datetime.now(UTC)
    filename = f"statement-{now:%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        statement_chunks(db, query, now),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )

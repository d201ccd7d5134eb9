"""Redis stream entry ids (`<ms>-<seq>`): their order and their time."""

from __future__ import annotations

__all__ = ["stream_id_key", "stream_id_us"]


def stream_id_key(entry_id: str | bytes) -> tuple[int, int]:
    """The id as a pair that orders like the id: "10-0" comes after "9-0", unlike strings.
    A bare `<ms>` is `<ms>-0`. Raises ValueError for anything else."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def stream_id_us(entry_id: str | bytes) -> int:
    """The time the entry was added, in µs (Redis gives it to the millisecond)."""
    return stream_id_key(entry_id)[0] * 1000

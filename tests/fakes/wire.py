"""Raw command JSON, as any producer on `trade_stream` / `user_wallet_stream` would write it
(codec/commands.py documents the format): tests that push by hand use it, so they exercise
the engine's decoder on plain JSON rather than on our own encoder's output."""

from __future__ import annotations

from typing import Any

import orjson


def wire_command(
    kind: str,
    request_id: str,
    user_id: str,
    reply_to: str | None,
    data: dict[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {"v": 1, "type": kind, "requestId": request_id, "userId": user_id}
    if reply_to is not None:
        body["replyTo"] = reply_to
    if data:
        body["data"] = data
    return orjson.dumps(body)

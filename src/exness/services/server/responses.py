"""JSON responses with exact decimals: a `Decimal` is written as a JSON number, digit for
digit (orjson.Fragment), never through a binary float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel

__all__ = ["ExactJSONResponse", "dumps", "exact"]


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f").encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_exact)


class ExactJSONResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def exact(model: BaseModel, status_code: int = 200) -> ExactJSONResponse:
    """A response model (validated when it was built) as exact JSON. FastAPI's own response
    serialization would write every Decimal as a string; this keeps them numbers."""
    return ExactJSONResponse(model.model_dump(), status_code=status_code)

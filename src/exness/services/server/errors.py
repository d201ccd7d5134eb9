"""Every failure is a JSON answer `{"success": false, "message": ..., "code": ...}` with the
right 4xx/5xx status; bad input never reaches a 500 (SPEC §4)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from exness.adapters.engine_port import EngineTimeout, EngineUnavailable
from exness.log import get_logger
from exness.services.server.responses import ExactJSONResponse

__all__ = [
    "RETRY_SAME_KEY",
    "ApiError",
    "failure",
    "install_error_handlers",
    "rejection_status",
    "timeout_message",
]

log = get_logger(__name__)

# The engine's rejection codes (exness.domain.errors) as HTTP statuses.
_REJECTION_STATUS = {
    "INVALID_COMMAND": 400,
    "INSUFFICIENT_BALANCE": 400,
    "SLIPPAGE_EXCEEDED": 400,
    "WALLET_NOT_FOUND": 404,
    "UNKNOWN_ORDER": 404,
    "NOT_ORDER_OWNER": 403,
    "ORDER_ALREADY_CLOSED": 409,
    "ORDER_NOT_PENDING": 409,  # cancel: it filled (close it instead), or was cancelled
    "ORDER_IS_PENDING": 409,  # close: it has not filled (cancel it instead)
    "DUPLICATE_ORDER": 409,
    "PRICE_UNAVAILABLE": 503,
    "STALE_PRICE": 503,
    # Taken by the engine after the server's deadline, and not applied: as a time-out (the
    # message says to retry with the same Idempotency-Key, which then gives the real outcome).
    "DEADLINE_EXCEEDED": 504,
}


def rejection_status(code: str | None) -> int:
    return _REJECTION_STATUS.get(code or "", 400)


RETRY_SAME_KEY = (
    "retry with the same Idempotency-Key header to learn the outcome (a request sent without "
    "one may or may not have been applied: check /trades/open and /orders/pending)"
)


def timeout_message(what: str) -> str:
    """A 504's message: what happened, and how to learn the real outcome."""
    return f"{what}; {RETRY_SAME_KEY}"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def failure(
    status: int, message: str, code: str | None = None, **headers: str
) -> ExactJSONResponse:
    body: dict[str, Any] = {"success": False, "message": message}
    if code:
        body["code"] = code
    return ExactJSONResponse(body, status_code=status, headers=headers or None)


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if error.get("type") == "missing":
        return f"{where} is required"
    message = str(error.get("msg", "is invalid"))
    return f"{where}: {message}" if where else message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> ExactJSONResponse:
        return failure(error.status, error.message, error.code, **(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> ExactJSONResponse:
        problems = [_describe(item) for item in error.errors()]
        return failure(400, "; ".join(problems) or "invalid request", "INVALID_REQUEST")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> ExactJSONResponse:
        return failure(error.status_code, str(error.detail), None, **(error.headers or {}))

    @app.exception_handler(EngineTimeout)
    async def engine_timeout(_: Request, error: EngineTimeout) -> ExactJSONResponse:
        return failure(504, timeout_message(str(error)), "ENGINE_TIMEOUT")

    @app.exception_handler(EngineUnavailable)
    async def engine_unavailable(_: Request, error: EngineUnavailable) -> ExactJSONResponse:
        return failure(503, str(error), "ENGINE_UNAVAILABLE")

    @app.exception_handler(RedisError)
    async def redis_down(_: Request, error: RedisError) -> ExactJSONResponse:
        log.warning("redis unavailable", error=repr(error))
        return failure(503, "the platform's message bus is unavailable; retry", "UNAVAILABLE")

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, error: DBAPIError) -> ExactJSONResponse:
        if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
            log.warning("database unavailable", error=repr(error))
            return failure(503, "the database is unavailable; retry", "UNAVAILABLE")
        log.exception("database error", path=request.url.path)
        return failure(500, "internal error", "INTERNAL")

    @app.exception_handler(SQLAlchemyTimeout)
    async def database_busy(_: Request, error: SQLAlchemyTimeout) -> ExactJSONResponse:
        return failure(503, "the database is busy; retry", "UNAVAILABLE")

    @app.exception_handler(TimeoutError)
    async def store_timeout(_: Request, error: TimeoutError) -> ExactJSONResponse:
        # asyncpg's command and connect time-outs, and the deadlines of Redis calls on a
        # request path (STORE_TIMEOUT_S): a stalled store is an answer, not a hung request.
        log.warning("a store did not answer in time", error=repr(error))
        return failure(503, "a store did not answer in time; retry", "STORE_TIMEOUT")

    @app.exception_handler(OSError)
    async def unreachable(_: Request, error: OSError) -> ExactJSONResponse:
        log.warning("a store is unreachable", error=repr(error))
        return failure(503, "a store is unreachable; retry", "UNAVAILABLE")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> ExactJSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return failure(500, "internal error", "INTERNAL")

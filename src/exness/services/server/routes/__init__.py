"""One router per concern; all under /api/v1 (ops routes also at the root).

Each router carries its prefix itself, so app.py puts its routes straight onto the app's own
router: FastAPI matches an included router's routes through a wrapper of its own (matched,
then matched again to be handled), which costs a request more than the route itself.
"""

from fastapi import APIRouter

from exness.services.server.responses import ExactJSONResponse

__all__ = ["API_PREFIX", "api_router"]

API_PREFIX = "/api/v1"


def api_router(tag: str, prefix: str = API_PREFIX, include_in_schema: bool = True) -> APIRouter:
    """A router for one concern, its routes under `prefix`, answering exact JSON."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        default_response_class=ExactJSONResponse,
        include_in_schema=include_in_schema,
    )

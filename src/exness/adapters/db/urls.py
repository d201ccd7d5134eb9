"""Connection URLs: accept what operators write, give each driver what it wants.

`postgresql://user@host:5432/db`, `postgres://…` and unix sockets written as
`postgresql://user@/db?host=/run/postgresql` all work.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["asyncpg_dsn", "sqlalchemy_url"]


def _with_scheme(url: str, scheme: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, *parts[1:]))


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy URL with the asyncpg driver."""
    return _with_scheme(url, "postgresql+asyncpg")


def asyncpg_dsn(url: str) -> str:
    """A DSN for asyncpg itself (it knows `postgresql://` and `?host=/socket/dir`)."""
    return _with_scheme(url, "postgresql")

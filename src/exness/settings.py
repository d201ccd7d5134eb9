"""Every setting of the platform (SPEC §6), read from the environment, validated once.

Build one with `get_settings()` in a composition root and pass it down; nothing reads the
environment at import time.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Network", "Settings", "SettingsError", "StoreUrls", "get_settings", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Secrets that appear in tutorials and .env templates: refusing them beats signing tokens with them.
_PLACEHOLDER_SECRETS = {"changeme", "changethis", "secret", "jwt_secret", "your-secret", "password"}
_MIN_SECRET_LENGTH = 32
_JWT_SECRET_FILE = "jwt_secret"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


def _require_scheme(value: str | None, schemes: tuple[str, ...], name: str) -> str | None:
    if value is None or value == "":
        return None
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        raise ValueError(f"{name} must start with one of {', '.join(s + '://' for s in schemes)}")
    return value


def parse_networks(value: str) -> tuple[Network, ...]:
    """A comma-separated list of addresses and CIDR networks ("127.0.0.1, 10.0.0.0/8");
    `*` is every address. ValueError names the entry that is neither."""
    networks: list[Network] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        if entry == "*":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class StoreUrls:
    """Where the stores are, resolved: configured, or the embedded ones `exness up` started."""

    redis_url: str
    database_url: str
    snapshot_url: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Stores. Unset REDIS_URL / DATABASE_URL make `exness up` start embedded ones.
    redis_url: str | None = None
    database_url: str | None = None
    snapshot_url: str | None = None  # defaults to DATABASE_URL

    # HTTP server
    host: str = "127.0.0.1"
    port: int = Field(8002, ge=1, le=65535)
    server_workers: int = Field(1, ge=1, le=64)
    # Where the server is reached (the sign-in link's base); defaults to http://HOST:PORT.
    backend_url: str = ""
    # Where the sign-in link lands and the CORS origin; defaults to BACKEND_URL, whose web
    # terminal (SPEC §9) is served by the server itself.
    frontend_url: str = ""
    rate_limit_per_minute: int = Field(600, ge=0)  # per client IP
    rate_limit_per_trader_per_minute: int = Field(600, ge=0)  # per signed-in trader
    engine_rpc_timeout_s: float = Field(5.0, gt=0, le=120)
    # Proxies whose X-Forwarded-For / Forwarded headers name the client (addresses or
    # networks, comma-separated); from anyone else those headers are ignored.
    forwarded_allow_ips: str = ""
    # The HTTP server's own limits, per server process (README, "Security")
    server_max_connections: int = Field(4096, ge=1)
    server_max_connections_per_ip: int = Field(256, ge=0)  # 0: no per-address cap
    server_max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    server_header_timeout_s: float = Field(10.0, gt=0, le=600)
    server_body_timeout_s: float = Field(30.0, gt=0, le=600)
    # A database or Redis call on a request path that takes longer is a 503
    store_timeout_s: float = Field(2.0, gt=0, le=60)
    health_timeout_s: float = Field(1.0, gt=0, le=30)
    # Who may read /metrics: these addresses, or a request with `Authorization: Bearer <token>`
    metrics_allow_ips: str = "127.0.0.1,::1"
    metrics_token: SecretStr | None = None

    # Live updates (SPEC §8, GET /api/v1/ws): the server pings every WS_PING_INTERVAL_S and
    # closes a socket silent for WS_IDLE_TIMEOUT_S; a socket with a private event unsent for
    # WS_SLOW_AFTER_S, or more than WS_MAX_PENDING unsent (a memory bound: larger than any
    # burst), is too slow and closed (1013).
    ws_ping_interval_s: float = Field(20.0, gt=0, le=3600)
    ws_idle_timeout_s: float = Field(60.0, gt=0, le=7200)
    ws_max_connections: int = Field(10_000, ge=1)  # per server process
    ws_max_pending: int = Field(10_000, ge=1)
    ws_slow_after_s: float = Field(10.0, gt=0)

    # Auth and mail
    jwt_secret: SecretStr | None = None
    session_lifetime_s: int = Field(7 * 24 * 3600, ge=60, le=366 * 24 * 3600)
    signin_links_per_address: int = Field(5, ge=0)  # 0: no per-address limit
    signin_links_window_s: int = Field(15 * 60, ge=1, le=7 * 24 * 3600)
    signin_mails_per_hour: int = Field(1000, ge=0)  # every address together; 0: no budget
    email_backend: Literal["console", "smtp", "resend"] = "console"
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    resend_api_key: SecretStr | None = None
    mail_from: str = "Exness <no-reply@exness.local>"

    # Prices and the engine
    price_feed: Literal["backpack", "sim"] = "backpack"
    backpack_ws_url: str = "wss://ws.backpack.exchange"
    sim_seed: int | None = None
    # 0 (SPEC §2): the poller writes each update as it arrives, batching only what comes while
    # a write is in flight; a longer window trades liquidation latency for fewer writes.
    price_batch_ms: int = Field(0, ge=0, le=10_000)
    price_max_age_s: float = Field(10.0, gt=0)
    # SPEC §7.1: widens bid and ask around the mid, each side by this many bps of the mid
    spread_markup_bps: int = Field(0, ge=0, le=1_000)
    snapshot_interval_s: float = Field(20.0, gt=0)
    snapshots_kept: int = Field(5, ge=1)
    price_history_days: int = Field(90, ge=1)
    # How much lower (a nice increment) the CPU priority of the work that may trail the
    # trading path: the DB processor and the embedded PostgreSQL. 0: the same as the rest.
    background_nice: int = Field(5, ge=0, le=19)
    # The DB processor starts a batch at most this often: what a busy engine writes meanwhile
    # goes into one transaction, and the trades table trails the engine by up to this much
    # (the first entry after a quiet spell is written at once).
    db_batch_interval_ms: int = Field(50, ge=0, le=10_000)

    # Durability of the embedded Valkey (see README, "Durability")
    redis_appendfsync: Literal["always", "everysec", "no"] = "everysec"

    exness_home: Path = Path(".exness")
    # The built web terminal (`make web`); unset: the repository's web/dist.
    web_dist: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        return _require_scheme(value, ("redis", "rediss", "unix", "valkey"), "REDIS_URL")

    @field_validator("database_url", "snapshot_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        schemes = ("postgresql", "postgres", "postgresql+asyncpg")
        return _require_scheme(value, schemes, "DATABASE_URL/SNAPSHOT_URL")

    @field_validator("backend_url", "frontend_url")
    @classmethod
    def _http_scheme(cls, value: str) -> str:
        if value:
            _require_scheme(value, ("http", "https"), "BACKEND_URL/FRONTEND_URL")
        return value.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _follow_defaults(cls, values: Any) -> Any:
        """Defaults that follow other settings: SNAPSHOT_URL follows DATABASE_URL, BACKEND_URL
        follows HOST and PORT, FRONTEND_URL follows BACKEND_URL (SPEC §6)."""
        if not isinstance(values, dict):
            return values
        values = {key.lower(): value for key, value in values.items()}
        if not values.get("snapshot_url"):
            values["snapshot_url"] = values.get("database_url") or None
        if not values.get("backend_url"):
            host = str(values.get("host") or "127.0.0.1")
            if host in ("0.0.0.0", "::", ""):  # every interface: this machine answers as localhost
                host = "localhost"
            elif ":" in host:  # an IPv6 literal
                host = f"[{host}]"
            values["backend_url"] = f"http://{host}:{values.get('port') or 8002}"
        if not values.get("frontend_url"):
            values["frontend_url"] = values["backend_url"]
        return values

    @field_validator("forwarded_allow_ips", "metrics_allow_ips")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("METRICS_TOKEN must be at least 16 characters")
        return value

    @field_validator("backpack_ws_url")
    @classmethod
    def _ws_scheme(cls, value: str) -> str:
        _require_scheme(value, ("ws", "wss"), "BACKPACK_WS_URL")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        secret = value.get_secret_value()
        if secret.lower() in _PLACEHOLDER_SECRETS or len(secret) < _MIN_SECRET_LENGTH:
            raise ValueError(
                f"JWT_SECRET must be a random string of at least {_MIN_SECRET_LENGTH} characters "
                "(or unset, to have one generated and kept under EXNESS_HOME)"
            )
        return value

    @model_validator(mode="after")
    def _ping_before_idle(self) -> Settings:
        if self.ws_idle_timeout_s <= self.ws_ping_interval_s:
            raise ValueError("WS_IDLE_TIMEOUT_S must be longer than WS_PING_INTERVAL_S")
        return self

    @model_validator(mode="after")
    def _mail_backend_complete(self) -> Settings:
        if self.email_backend == "smtp" and not self.smtp_host:
            raise ValueError("EMAIL_BACKEND=smtp needs SMTP_HOST (and SMTP_PORT)")
        if self.email_backend == "resend" and self.resend_api_key is None:
            raise ValueError("EMAIL_BACKEND=resend needs RESEND_API_KEY")
        return self

    # ---- derived values ----------------------------------------------------------------------

    def redis_only(self) -> str:
        """REDIS_URL, for a service that needs nothing else (the poller)."""
        if not self.redis_url:
            raise SettingsError(
                "REDIS_URL must be set to run this service alone "
                "(or use `exness up`, which starts embedded stores)"
            )
        return self.redis_url

    def stores(self) -> StoreUrls:
        """The store URLs a service needs, or SettingsError naming what is missing."""
        missing = [
            name
            for name, value in (("REDIS_URL", self.redis_url), ("DATABASE_URL", self.database_url))
            if not value
        ]
        if missing:
            raise SettingsError(
                f"{' and '.join(missing)} must be set to run this service alone "
                "(or use `exness up`, which starts embedded stores)"
            )
        assert self.redis_url and self.database_url
        return StoreUrls(self.redis_url, self.database_url, self.snapshot_url or self.database_url)

    @property
    def price_max_age_us(self) -> int:
        return round(self.price_max_age_s * 1_000_000)

    @property
    def secure_cookies(self) -> bool:
        return self.backend_url.startswith("https://")

    def trusted_proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.forwarded_allow_ips)

    def metrics_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.metrics_allow_ips)

    def allowed_origins(self) -> frozenset[str]:
        """The origins whose pages may send a cookie-authenticated request: the platform's
        own (BACKEND_URL) and FRONTEND_URL."""
        return frozenset(_origin(url) for url in (self.backend_url, self.frontend_url))

    def home(self) -> Path:
        self.exness_home.mkdir(parents=True, exist_ok=True)
        return self.exness_home.resolve()

    def jwt_key(self) -> str:
        """The JWT signing secret: JWT_SECRET, or one generated once and kept under EXNESS_HOME."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.home() / _JWT_SECRET_FILE
        try:
            # O_EXCL: when several services start at once, exactly one of them writes the secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(200):  # another process may be between creating and writing it
                secret = path.read_text().strip()
                if secret:
                    return secret
                time.sleep(0.01)
            raise SettingsError(f"{path} is empty; delete it to have a new one generated") from None
        secret = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as file:
            file.write(secret + "\n")
        return secret


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, as a browser writes it in an Origin header (default
    ports left out)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def get_settings(**overrides: object) -> Settings:
    """Read and validate the settings; a bad value raises SettingsError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # names and types are checked at run time
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = "/".join(str(part).upper() for part in item["loc"]) or "settings"
            problems.append(f"{name}: {item['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None

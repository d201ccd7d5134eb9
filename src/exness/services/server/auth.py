"""Who is asking: session JWTs (the `authToken` cookie or a Bearer header) and the
single-use magic-link tokens mailed at sign-up and sign-in.

A session JWT proves who signed it in and names the session (`jti`); whether that session
is still open is the session store's answer (sessions.py): signing out ends it at once."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
import orjson
import redis.asyncio as aioredis

from exness.adapters import keys

__all__ = [
    "AUTH_COOKIE",
    "LinkTokens",
    "Session",
    "SessionTokens",
    "TooManyLinks",
    "bearer_or_cookie",
]

AUTH_COOKIE = "authToken"
SESSION_TTL_S = 7 * 24 * 3600  # the default of SESSION_LIFETIME_S
LINK_TTL_S = 5 * 60
_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    email: str
    expires_at: int  # epoch seconds
    session_id: str  # the JWT's jti: what the session store knows the session by


class SessionTokens:
    """HS256 JWTs. Verification is cached by token, so a busy client costs one dict lookup;
    the cache honours each token's expiry and holds a bounded number of tokens."""

    def __init__(
        self, secret: str, lifetime_s: int = SESSION_TTL_S, cache_size: int = 50_000
    ) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._cache: OrderedDict[str, Session] = OrderedDict()
        self._cache_size = cache_size

    def new_session(self, user_id: str, email: str, now: int | None = None) -> Session:
        issued = int(time.time()) if now is None else now
        return Session(user_id, email, issued + self.lifetime_s, secrets.token_urlsafe(16))

    def sign(self, session: Session) -> str:
        claims = {
            "sub": session.user_id,
            "email": session.email,
            "jti": session.session_id,
            "iat": session.expires_at - self.lifetime_s,
            "exp": session.expires_at,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def issue(self, user_id: str, email: str, now: int | None = None) -> str:
        """A signed token for a new session (which the session store must still open)."""
        return self.sign(self.new_session(user_id, email, now))

    def verify(self, token: str) -> Session | None:
        """The session a token proves, or None when forged, expired, malformed or `alg: none`.
        Whether the session is still open is for the session store to say."""
        session = self._cache.get(token)
        if session is not None:
            if session.expires_at > time.time():
                return session
            del self._cache[token]
            return None
        try:
            # Pinning the algorithm is what refuses `alg: none` and key-confusion tricks.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.PyJWTError:
            return None
        if not all(isinstance(claims.get(name), str) for name in ("sub", "email", "jti")):
            return None
        # A token outlives neither its own `exp` nor SESSION_LIFETIME_S as it is now set.
        expires_at = min(int(claims["exp"]), int(claims["iat"]) + self.lifetime_s)
        if expires_at <= time.time():
            return None
        session = Session(claims["sub"], claims["email"], expires_at, claims["jti"])
        self._cache[token] = session
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return session


def bearer_or_cookie(headers: Sequence[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """The session token a request carries, from `Authorization: Bearer` or else the
    `authToken` cookie, and whether it came from the cookie."""
    cookies: list[bytes] = []
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip(), False
        elif name == b"cookie":
            cookies.append(value)
    for header in cookies:
        for pair in header.decode("latin-1").split(";"):
            name_, _, token = pair.strip().partition("=")
            if name_ == AUTH_COOKIE and token:
                return token.strip('"'), True
    return None, False


class TooManyLinks(Exception):
    """No sign-in mail now: the address (or every address together) had its share."""

    def __init__(self, retry_after_s: int, per_address: bool) -> None:
        super().__init__(f"retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s
        self.per_address = per_address


# Atomic, so concurrent requests cannot overshoot a limit. Sliding windows of send times
# (sorted sets scored in ms, by Redis's own clock): KEYS[2] the address's, KEYS[4] everyone's
# over an hour. A new link deletes the address's previous one (KEYS[3] names it): the newest
# mail is the only one that works. Returns {1, 0}, or {0 | -1, ms to wait} when the address
# (0) or the global budget (-1) is spent.
_CREATE_LINK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per_address, window = tonumber(ARGV[3]), tonumber(ARGV[4]) * 1000
local budget, hour = tonumber(ARGV[5]), 3600000
if per_address > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if redis.call('ZCARD', KEYS[2]) >= per_address then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + window - now}
  end
end
if budget > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - hour)
  if redis.call('ZCARD', KEYS[4]) >= budget then
    local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    return {-1, tonumber(oldest[2]) + hour - now}
  end
  redis.call('ZADD', KEYS[4], now, ARGV[6])
  redis.call('PEXPIRE', KEYS[4], hour)
end
if per_address > 0 then
  redis.call('ZADD', KEYS[2], now, ARGV[6])
  redis.call('PEXPIRE', KEYS[2], window)
end
local previous = redis.call('GET', KEYS[3])
if previous then
  redis.call('DEL', previous)
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[3], KEYS[1], 'EX', ARGV[2])
return {1, 0}
"""


class LinkTokens:
    """Magic-link tokens: random, stored hashed in Redis for 5 minutes, usable once (GETDEL),
    and only the newest of an address's links. Mail is limited per address
    (`per_address` links in `window_s`) and for everyone together (`per_hour`); 0 turns a
    limit off."""

    def __init__(
        self,
        client: aioredis.Redis,
        per_address: int = 0,
        window_s: int = 900,
        per_hour: int = 0,
        timeout_s: float = 3.0,
    ) -> None:
        self.client = client
        self.per_address = per_address
        self.window_s = window_s
        self.per_hour = per_hour
        self.timeout_s = timeout_s
        self._create = client.register_script(_CREATE_LINK) if client is not None else None

    @staticmethod
    def _key(token: str) -> str:
        return keys.SIGNIN_TOKEN_PREFIX + hashlib.sha256(token.encode()).hexdigest()

    async def create(self, email: str) -> str:
        """A new link token for `email`; TooManyLinks when a limit says no mail now."""
        assert self._create is not None
        token = secrets.token_urlsafe(32)
        address = hashlib.sha256(email.encode()).hexdigest()
        created = self._create(
            keys=[
                self._key(token),
                keys.SIGNIN_SENT_PREFIX + address,
                keys.SIGNIN_CURRENT_PREFIX + address,
                keys.SIGNIN_SENT_ALL,
            ],
            args=[
                orjson.dumps({"email": email}),
                LINK_TTL_S,
                self.per_address,
                self.window_s,
                self.per_hour,
                secrets.token_hex(8),
            ],
        )
        sent, wait_ms = await asyncio.wait_for(created, self.timeout_s)
        if int(sent) != 1:
            raise TooManyLinks(max(1, -(-int(wait_ms) // 1000)), per_address=int(sent) == 0)
        return token

    async def redeem(self, token: str) -> str | None:
        """The email a token was issued for, once; None if unknown, expired, already used or
        replaced by a newer link."""
        raw = await asyncio.wait_for(self.client.getdel(self._key(token)), self.timeout_s)
        if raw is None:
            return None
        email = orjson.loads(raw).get("email")
        return email if isinstance(email, str) else None

"""Who is asking: session JWTs (the `authToken` cookie or a Bearer header) and the
single-use magic-link tokens mailed at sign-up and sign-in."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt
import orjson
import redis.asyncio as aioredis

from exness.adapters import keys

__all__ = ["LinkTokens", "Session", "SessionTokens"]

SESSION_TTL_S = 7 * 24 * 3600
LINK_TTL_S = 5 * 60
_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    email: str
    expires_at: int  # epoch seconds


class SessionTokens:
    """HS256 JWTs. Verification is cached by token, so a busy client costs one dict lookup;
    the cache honours each token's expiry and holds a bounded number of tokens."""

    def __init__(self, secret: str, cache_size: int = 50_000) -> None:
        self._secret = secret
        self._cache: OrderedDict[str, Session] = OrderedDict()
        self._cache_size = cache_size

    def issue(self, user_id: str, email: str, now: int | None = None) -> str:
        issued = int(time.time()) if now is None else now
        claims = {"sub": user_id, "email": email, "iat": issued, "exp": issued + SESSION_TTL_S}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> Session | None:
        """The session a token proves, or None when forged, expired, malformed or `alg: none`."""
        session = self._cache.get(token)
        if session is not None:
            if session.expires_at > time.time():
                return session
            del self._cache[token]
            return None
        try:
            # Pinning the algorithm is what refuses `alg: none` and key-confusion tricks.
            claims = jwt.decode(
                token, self._secret, algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError:
            return None
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("email"), str):
            return None
        session = Session(claims["sub"], claims["email"], int(claims["exp"]))
        self._cache[token] = session
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return session


class LinkTokens:
    """Magic-link tokens: random, stored hashed in Redis for 5 minutes, usable once (GETDEL)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    @staticmethod
    def _key(token: str) -> str:
        return keys.SIGNIN_TOKEN_PREFIX + hashlib.sha256(token.encode()).hexdigest()

    async def create(self, email: str) -> str:
        token = secrets.token_urlsafe(32)
        await self.client.set(self._key(token), orjson.dumps({"email": email}), ex=LINK_TTL_S)
        return token

    async def redeem(self, token: str) -> str | None:
        """The email a token was issued for, once; None if unknown, expired or already used."""
        raw = await self.client.getdel(self._key(token))
        if raw is None:
            return None
        email = orjson.loads(raw).get("email")
        return email if isinstance(email, str) else None

"""Who the client is, by address: the peer of the connection, or, when that peer is a proxy
listed in FORWARDED_ALLOW_IPS, the address the proxy says it forwarded for.

Anyone can send `X-Forwarded-For` or `Forwarded`; believed from everyone, they would let a
client pick the address its rate limit is counted under. So they are read only from trusted
proxies, and then from the right: the nearest hop a trusted proxy added is the first one
that can be believed, and the first address that is not itself a trusted proxy is the
client. The middleware rewrites `scope["client"]` (and the scheme, from
`X-Forwarded-Proto` / `proto=`) once, before everything else sees the request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from exness.settings import Network

__all__ = ["ClientAddressMiddleware", "TrustedProxies", "forwarded_for"]


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header's node: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `[::1]`."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _forwarded_nodes(value: str) -> list[tuple[str, str | None]]:
    """The (for, proto) of each element of a `Forwarded` header (RFC 7239), in order."""
    nodes: list[tuple[str, str | None]] = []
    for element in value.split(","):
        node, proto = None, None
        for pair in element.split(";"):
            name, _, item = pair.partition("=")
            name = name.strip().lower()
            if name == "for":
                node = item.strip()
            elif name == "proto":
                proto = item.strip().strip('"').lower()
        nodes.append((node or "unknown", proto))
    return nodes


class TrustedProxies:
    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)


def forwarded_for(
    peer: str, headers: Sequence[tuple[bytes, bytes]], proxies: TrustedProxies
) -> tuple[str, str | None]:
    """(client address, scheme or None) of a request from `peer`: the peer itself unless it
    is a trusted proxy, else the nearest address in its forwarding headers that is not one
    (`Forwarded` wins over `X-Forwarded-For`)."""
    if not proxies.trusts(peer):
        return peer, None
    forwarded: list[str] = []
    x_forwarded: list[str] = []
    x_proto: str | None = None
    for name, value in headers:
        if name == b"forwarded":
            forwarded.append(value.decode("latin-1"))
        elif name == b"x-forwarded-for":
            x_forwarded.append(value.decode("latin-1"))
        elif name == b"x-forwarded-proto":
            x_proto = value.decode("latin-1").split(",")[-1].strip().lower()
    if forwarded:
        hops = _forwarded_nodes(",".join(forwarded))
    elif x_forwarded:
        hops = [(hop, None) for hop in ",".join(x_forwarded).split(",")]
        if hops and x_proto:
            hops[-1] = (hops[-1][0], x_proto)
    else:
        return peer, None
    client, scheme = peer, None
    for hop, proto in reversed(hops):
        address = _address(hop)
        if address is None:  # "unknown", an obfuscated name, junk: believe nothing further
            break
        client, scheme = str(address), proto or scheme
        if not proxies.trusts(client):
            break
    return client, scheme if scheme in ("http", "https") else None


class ClientAddressMiddleware:
    """Set the scope's client (and scheme) from trusted proxies' forwarding headers."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.proxies and scope["type"] in ("http", "websocket") and scope.get("client"):
            host = scope["client"][0]
            client, scheme = forwarded_for(host, scope["headers"], self.proxies)
            if client != host:
                scope["client"] = (client, 0)
            if scheme is not None:
                websocket = scope["type"] == "websocket"
                scope["scheme"] = scheme.replace("http", "ws") if websocket else scheme
        await self.app(scope, receive, send)

"""Pure parts of the server's defences: forwarding headers, session tokens, the token a
request carries, the settings that configure them."""

from __future__ import annotations

import time

import jwt
import pytest

from exness.services.server.auth import SessionTokens, bearer_or_cookie
from exness.services.server.clientip import TrustedProxies, forwarded_for
from exness.services.server.routes.ops import may_read_metrics
from exness.settings import SettingsError, get_settings, parse_networks

PROXIES = TrustedProxies(parse_networks("10.0.0.0/8, 127.0.0.1, fd00::/8"))


def h(**headers: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]


@pytest.mark.parametrize(
    ("peer", "headers", "client", "scheme"),
    [
        # an untrusted peer: its headers are ignored, whatever they say
        ("203.0.113.5", h(x_forwarded_for="1.2.3.4"), "203.0.113.5", None),
        ("203.0.113.5", h(forwarded="for=1.2.3.4;proto=https"), "203.0.113.5", None),
        # a trusted proxy: the nearest untrusted hop, from the right
        ("10.0.0.2", h(x_forwarded_for="1.2.3.4"), "1.2.3.4", None),
        ("10.0.0.2", h(x_forwarded_for="6.6.6.6, 1.2.3.4"), "1.2.3.4", None),  # 6.6.6.6 forged
        ("10.0.0.2", h(x_forwarded_for="6.6.6.6, 1.2.3.4, 10.9.9.9"), "1.2.3.4", None),
        ("10.0.0.2", h(x_forwarded_for="1.2.3.4", x_forwarded_proto="https"), "1.2.3.4", "https"),
        ("10.0.0.2", h(x_forwarded_for="10.1.1.1, 10.2.2.2"), "10.1.1.1", None),  # all proxies
        ("10.0.0.2", [], "10.0.0.2", None),
        ("10.0.0.2", h(x_forwarded_for="junk"), "10.0.0.2", None),
        ("10.0.0.2", h(x_forwarded_for="6.6.6.6, junk, 1.2.3.4"), "1.2.3.4", None),
        ("10.0.0.2", h(x_forwarded_for="1.2.3.4:5678"), "1.2.3.4", None),
        # RFC 7239, which wins over X-Forwarded-For
        ("127.0.0.1", h(forwarded='for="[2001:db8::1]:80";proto=https'), "2001:db8::1", "https"),
        ("127.0.0.1", h(forwarded="for=1.2.3.4, for=10.0.0.7"), "1.2.3.4", None),
        ("127.0.0.1", h(forwarded="for=unknown"), "127.0.0.1", None),
        ("127.0.0.1", h(forwarded="for=5.5.5.5", x_forwarded_for="1.2.3.4"), "5.5.5.5", None),
        ("127.0.0.1", h(forwarded="for=1.2.3.4;proto=gopher"), "1.2.3.4", None),
        ("fd00::1", h(x_forwarded_for="2001:db8::7"), "2001:db8::7", None),
    ],
)
def test_forwarded_for(peer, headers, client, scheme):
    assert forwarded_for(peer, headers, PROXIES) == (client, scheme)


def test_no_trusted_proxies_believes_no_one():
    none = TrustedProxies(parse_networks(""))
    assert not none
    assert forwarded_for("127.0.0.1", h(x_forwarded_for="1.2.3.4"), none) == ("127.0.0.1", None)


def test_networks_setting():
    assert [str(n) for n in parse_networks(" 127.0.0.1 , 10.0.0.0/8,::1")] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert len(parse_networks("*")) == 2
    with pytest.raises(ValueError, match="'nope'"):
        parse_networks("127.0.0.1, nope")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (h(authorization="Bearer abc"), ("abc", False)),
        (h(authorization="bearer  abc "), ("abc", False)),
        (h(authorization="Bearer abc", cookie="authToken=def"), ("abc", False)),
        (h(authorization="Basic dTpw", cookie="authToken=def"), ("def", True)),
        (h(cookie="a=1; authToken=def; b=2"), ("def", True)),
        (h(cookie='authToken="def"'), ("def", True)),
        (h(cookie="authTokenX=def"), (None, False)),
        (h(authorization="Bearer"), (None, False)),
        ([], (None, False)),
    ],
)
def test_the_token_a_request_carries(headers, expected):
    assert bearer_or_cookie(headers) == expected


def test_session_tokens_name_their_session_and_expire():
    tokens = SessionTokens("k" * 40, lifetime_s=3600)
    session = tokens.new_session("u1", "u1@example.com")
    token = tokens.sign(session)
    claims = jwt.decode(token, "k" * 40, algorithms=["HS256"])
    assert claims["jti"] == session.session_id and claims["exp"] - claims["iat"] == 3600
    assert tokens.verify(token) == session
    assert tokens.new_session("u1", "u1@example.com").session_id != session.session_id

    # without a jti: refused (tokens from before sessions were recorded)
    old = jwt.encode({k: v for k, v in claims.items() if k != "jti"}, "k" * 40)
    assert tokens.verify(old) is None
    # a lifetime shortened after issue: the token ends with the new lifetime, whatever its exp
    long_lived = SessionTokens("k" * 40, lifetime_s=7 * 86400)
    earlier = long_lived.sign(long_lived.new_session("u1", "e", now=int(time.time()) - 7200))
    assert long_lived.verify(earlier) is not None
    assert SessionTokens("k" * 40, lifetime_s=3600).verify(earlier) is None


def test_new_settings_are_validated(monkeypatch, tmp_path):
    monkeypatch.setenv("EXNESS_HOME", str(tmp_path))
    settings = get_settings()
    assert settings.session_lifetime_s == 7 * 86400
    assert settings.forwarded_allow_ips == "" and not settings.trusted_proxies()
    assert settings.server_max_header_bytes == 16384
    assert settings.allowed_origins() == {"http://127.0.0.1:8002"}
    both = get_settings(
        backend_url="https://api.example.com:443/", frontend_url="http://app.example.com:8080"
    )
    assert both.allowed_origins() == {"https://api.example.com", "http://app.example.com:8080"}
    for name, value in (
        ("FORWARDED_ALLOW_IPS", "10.0.0.0/8,proxy.local"),
        ("METRICS_ALLOW_IPS", "localhost"),
        ("METRICS_TOKEN", "short"),
        ("SERVER_MAX_HEADER_BYTES", "100"),
        ("STORE_TIMEOUT_S", "0"),
        ("SESSION_LIFETIME_S", "10"),
    ):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(SettingsError, match=name):
                get_settings()


def test_who_may_read_metrics(tmp_path):
    settings = get_settings(exness_home=str(tmp_path), metrics_token="t" * 20)
    assert may_read_metrics(settings, "127.0.0.1", "")
    assert may_read_metrics(settings, "::1", "")
    assert not may_read_metrics(settings, "192.0.2.1", "")
    assert not may_read_metrics(settings, None, "")
    assert may_read_metrics(settings, "192.0.2.1", "Bearer " + "t" * 20)
    assert not may_read_metrics(settings, "192.0.2.1", "Bearer " + "t" * 19)
    closed = get_settings(exness_home=str(tmp_path), metrics_allow_ips="")
    assert not may_read_metrics(closed, "127.0.0.1", "Bearer " + "t" * 20)

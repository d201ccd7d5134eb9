"""Signing up and in by mail, the session cookie and the Bearer header, through HTTP alone,
with the services as processes and a real SMTP sink (SPEC §4): the mailed link is followed
like a browser would, and every forged or missing token is a 401 JSON answer."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import redis

from exness.adapters import keys
from tests.e2e.api import (
    API,
    Trader,
    assert_failure,
    db_fetch,
    follow,
    module_stack,
    random_secret,
    session_cookie,
    sign_up,
    unique_email,
)
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e

WEEK_S = 7 * 24 * 3600


# One stack for the module: every test signs up traders of its own.
stack = module_stack("api-auth", 1)


def post(stack: Stack, path: str, **options) -> httpx.Response:
    return httpx.post(f"{stack.api}{API}{path}", timeout=20, **options)


def get(stack: Stack, path: str, **options) -> httpx.Response:
    return httpx.get(f"{stack.api}{API}{path}", timeout=20, **options)


def test_sign_up_by_mail_sets_the_session_cookie_and_opens_a_wallet(stack: Stack):
    email = unique_email()

    answer = post(stack, "/signup", json={"email": email})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"message": "Kindly check your mail for the signup link"}

    link = stack.mailbox.wait_for_link(email)
    assert link.startswith(f"{stack.env['BACKEND_URL']}/api/v1/signin/post?token=")
    redirect = follow(link)

    assert redirect.status_code == 302, redirect.text
    assert redirect.headers["location"] == "http://frontend.test/dashboard"
    cookie = session_cookie(redirect)
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert not cookie["secure"], "the backend is plain http: a Secure cookie would never return"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == WEEK_S
    claims = jwt.decode(cookie.value, stack.env["JWT_SECRET"], algorithms=["HS256"])
    assert claims["email"] == email
    assert claims["exp"] - claims["iat"] == WEEK_S

    # the user row exists, with the id the session names
    [user] = db_fetch(stack.env["DATABASE_URL"], "SELECT * FROM users WHERE email = $1", email)
    assert user["id"] == claims["sub"]

    # the cookie is the session: a new wallet of USD 5,000.00
    with_cookie = {"Cookie": f"authToken={cookie.value}"}
    assert get(stack, "/balance/usd", headers=with_cookie).json() == {"balance": 500_000}
    assert get(stack, "/balance", headers=with_cookie).json() == {
        "USDC": {"balance": 500_000, "decimals": 2},
        "BTC": {"balance": 0, "decimals": 4},
        "ETH": {"balance": 0, "decimals": 6},
        "SOL": {"balance": 0, "decimals": 6},
    }

    # the link works once; the email is now taken
    assert_failure(follow(link), 400, "BAD_LINK")
    assert_failure(post(stack, "/signup", json={"email": email}), 409, "USER_EXISTS")
    assert_failure(post(stack, "/signup", json={"email": email.upper()}), 409, "USER_EXISTS")
    assert len(stack.mailbox.links_to(email)) == 1


def test_sign_in_mails_a_new_link_that_works_and_keeps_the_wallet(stack: Stack):
    trader = sign_up(stack)
    before = db_fetch(
        stack.env["DATABASE_URL"], "SELECT * FROM users WHERE email = $1", trader.email
    )

    # the address is matched without regard to case or surrounding blanks
    answer = post(stack, "/signin", json={"email": f"  {trader.email.upper()} "})
    assert answer.status_code == 200, answer.text
    link = stack.mailbox.wait_for_link(trader.email, count=2)
    first_link = stack.mailbox.links_to(trader.email)[0]
    assert link != first_link

    redirect = follow(link)
    assert redirect.status_code == 302, redirect.text
    again = Trader(stack, trader.email, session_cookie(redirect).value)
    assert again.balance() == 500_000
    after = db_fetch(
        stack.env["DATABASE_URL"], "SELECT * FROM users WHERE email = $1", trader.email
    )
    assert len(after) == 1 and after[0]["id"] == before[0]["id"]
    assert after[0]["last_logged_in"] >= before[0]["last_logged_in"]


def test_sign_in_of_an_unknown_email_is_404_and_mails_nothing(stack: Stack):
    email = unique_email("stranger")
    assert_failure(post(stack, "/signin", json={"email": email}), 404, "UNKNOWN_USER")
    assert stack.mailbox.links_to(email) == []


def test_an_expired_link_is_refused_and_creates_no_user(stack: Stack):
    email = unique_email()
    assert post(stack, "/signup", json={"email": email}).status_code == 200
    link = stack.mailbox.wait_for_link(email)
    token = parse_qs(urlsplit(link).query)["token"][0]
    key = keys.SIGNIN_TOKEN_PREFIX + hashlib.sha256(token.encode()).hexdigest()

    # five minutes pass: the key's time to live runs out
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        ttl = client.ttl(key)
        assert 0 < ttl <= 300, ttl
        client.pexpire(key, 1)
        wait_until(lambda: not client.exists(key), 5, "the link to expire")

    assert_failure(follow(link), 400, "BAD_LINK")
    assert db_fetch(stack.env["DATABASE_URL"], "SELECT id FROM users WHERE email = $1", email) == []


def test_bad_link_tokens_are_400(stack: Stack):
    assert_failure(get(stack, "/signin/post"), 400)
    assert_failure(get(stack, "/signin/post", params={"token": "short"}), 400)
    assert_failure(get(stack, "/signin/post", params={"token": "x" * 201}), 400)
    assert_failure(get(stack, "/signin/post", params={"token": "y" * 43}), 400, "BAD_LINK")


def test_logout_clears_the_cookie(stack: Stack):
    email = unique_email()
    assert post(stack, "/signup", json={"email": email}).status_code == 200
    link = stack.mailbox.wait_for_link(email)
    with httpx.Client(base_url=f"{stack.api}{API}", timeout=20) as browser:
        assert browser.get(link, follow_redirects=False).status_code == 302
        assert "authToken" in browser.cookies  # the browser keeps the session cookie
        assert browser.get("/balance/usd").json() == {"balance": 500_000}

        answer = browser.post("/logout")

        assert answer.status_code == 200, answer.text
        cleared = session_cookie(answer)
        assert cleared.value == ""
        assert int(cleared["max-age"]) == 0
        assert cleared["httponly"] is True
        assert "authToken" not in browser.cookies
        assert_failure(browser.get("/balance/usd"), 401, "UNAUTHENTICATED")


def test_the_bearer_header_works_like_the_cookie(stack: Stack):
    trader = sign_up(stack)
    by_header = get(stack, "/balance/usd", headers={"Authorization": f"Bearer {trader.token}"})
    by_cookie = get(stack, "/balance/usd", headers={"Cookie": f"authToken={trader.token}"})
    lower_case = get(stack, "/balance/usd", headers={"Authorization": f"bearer {trader.token}"})
    assert by_header.status_code == by_cookie.status_code == lower_case.status_code == 200
    assert by_header.json() == by_cookie.json() == lower_case.json() == {"balance": 500_000}
    assert get(stack, "/trades/open", headers=trader.headers).json() == {"trades": []}


# ---- forged, expired and missing tokens -------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(trader: Trader, **changes) -> dict:
    claims = jwt.decode(trader.token, options={"verify_signature": False})
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(stack: Stack, claims: dict, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, stack.env["JWT_SECRET"], algorithm=algorithm)


def _tamper_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


def _swap_payload(stack: Stack, trader: Trader) -> str:
    """The trader's real signature on a payload naming someone else."""
    head, _, signature = trader.token.split(".")
    return f"{head}.{_b64(_claims(trader, sub='someone-else'))}.{signature}"


FORGERIES: dict[str, Callable[[Stack, Trader], str]] = {
    "wrong secret": lambda s, t: jwt.encode(_claims(t), random_secret(), algorithm="HS256"),
    "alg none": lambda s, t: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(t))}.",
    "alg none, signature kept": lambda s, t: (
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(t))}.{t.token.split('.')[2]}"
    ),
    "HS256, tampered signature": lambda s, t: _tamper_signature(t.token),
    "HS256, payload swapped": _swap_payload,
    "HS512 with the right secret": lambda s, t: _signed(s, _claims(t), "HS512"),
    "expired": lambda s, t: _signed(
        s, _claims(t, iat=int(time.time()) - 8 * 86400, exp=int(time.time()) - 60)
    ),
    "missing sub": lambda s, t: _signed(s, _claims(t, sub=None)),
    "sub not a string": lambda s, t: _signed(s, _claims(t, sub=12345)),
    "missing exp": lambda s, t: _signed(s, _claims(t, exp=None)),
    "garbage": lambda s, t: "not-a-jwt",
    "three garbage parts": lambda s, t: "abc.def.ghi",
    "empty": lambda s, t: "",
}

PROTECTED = [
    ("GET", "/balance", None),
    ("GET", "/balance/usd", None),
    ("GET", "/trades/open", None),
    ("GET", "/trade/history", None),
    (
        "POST",
        "/trade/create",
        {"asset": "SOL", "type": "long", "margin": 100, "leverage": 2, "slippage": 100},
    ),
    ("POST", "/trade/close", {"orderId": "some-order"}),
]


@pytest.fixture(scope="module")
def victim(stack: Stack) -> Trader:
    return sign_up(stack)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
def test_forged_tokens_are_401_on_every_protected_route(stack: Stack, victim: Trader, forgery: str):
    token = FORGERIES[forgery](stack, victim)
    assert token != victim.token
    for method, path, body in PROTECTED:
        bearer = f"Bearer {token}".rstrip()  # an empty Bearer goes on the wire as "Bearer"
        for where in ({"Authorization": bearer}, {"Cookie": f"authToken={token}"}):
            answer = httpx.request(
                method, f"{stack.api}{API}{path}", json=body, headers=where, timeout=20
            )
            assert_failure(answer, 401, "UNAUTHENTICATED")
    # the real token still works
    assert victim.balance() == 500_000


def test_no_token_at_all_is_401_on_every_protected_route(stack: Stack):
    for method, path, body in PROTECTED:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic dTpw"}):
            answer = httpx.request(
                method, f"{stack.api}{API}{path}", json=body, headers=headers, timeout=20
            )
            body_seen = assert_failure(answer, 401, "UNAUTHENTICATED")
            assert "sign in" in body_seen["message"]

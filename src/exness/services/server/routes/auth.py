"""Sign-up and sign-in by magic link; the session cookie (SPEC §4)."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse

from exness.adapters.db.queries import Users
from exness.adapters.mail import Mailer, MailError
from exness.domain.messages import InitializeWallet
from exness.log import get_logger
from exness.services.server.auth import AUTH_COOKIE, LINK_TTL_S, LinkTokens, TooManyLinks
from exness.services.server.deps import (
    OptionalSessionDep,
    database_of,
    engine_of,
    links_of,
    mailer_of,
    session_store_of,
    session_tokens_of,
    settings_of,
)
from exness.services.server.errors import ApiError
from exness.services.server.routes import api_router
from exness.services.server.schemas import EmailBody, Failure, Message
from exness.settings import Settings

router = api_router("auth")
log = get_logger(__name__)

FAILURES: dict[int | str, dict[str, Any]] = {
    400: {"model": Failure},
    429: {"model": Failure, "description": "too many sign-in mails; see Retry-After"},
    503: {"model": Failure},
}
# The seed's web client compares these answers with its own text, word for word (SPEC §4).
SIGNUP_SENT = "Kindly check your mail for the signup link"
SIGNIN_SENT = "Kindly check your mail for the signin link"


async def send_link(settings: Settings, links: LinkTokens, mailer: Mailer, email: str) -> None:
    try:
        token = await links.create(email)
    except TooManyLinks as limited:
        whose = "to this address" if limited.per_address else "by the platform just now"
        raise ApiError(
            429,
            f"too many sign-in mails {whose}; retry in {limited.retry_after_s} s",
            "TOO_MANY_LINKS",
            {"Retry-After": str(limited.retry_after_s)},
        ) from None
    link = f"{settings.backend_url}/api/v1/signin/post?token={quote(token)}"
    minutes = LINK_TTL_S // 60
    text = f"Sign in to Exness: {link}\n\nThe link works once, for {minutes} minutes."
    html = (
        f'<p><a href="{escape(link)}">Sign in to Exness</a></p>'
        f"<p>The link works once, for {minutes} minutes.</p>"
    )
    try:
        await mailer.send(email, "Your Exness sign-in link", text, html)
    except MailError as error:
        log.error("sign-in mail not sent", error=str(error))
        raise ApiError(
            503, "the sign-in mail could not be sent; try again", "MAIL_FAILED"
        ) from None


def normalized(email: str) -> str:
    return email.strip().lower()


@router.post("/signup", response_model=Message, responses={**FAILURES, 409: {"model": Failure}})
async def signup(request: Request, body: EmailBody) -> dict[str, str]:
    """Mail a sign-in link to a new trader; 409 if the email already has an account."""
    email = normalized(body.email)
    if await Users(database_of(request)).exists(email):
        raise ApiError(409, "an account with this email exists; sign in instead", "USER_EXISTS")
    await send_link(settings_of(request), links_of(request), mailer_of(request), email)
    return {"message": SIGNUP_SENT}


@router.post("/signin", response_model=Message, responses={**FAILURES, 404: {"model": Failure}})
async def signin(request: Request, body: EmailBody) -> dict[str, str]:
    """Mail a sign-in link to an existing trader; 404 for an unknown email."""
    email = normalized(body.email)
    if not await Users(database_of(request)).exists(email):
        raise ApiError(404, "no account with this email; sign up first", "UNKNOWN_USER")
    await send_link(settings_of(request), links_of(request), mailer_of(request), email)
    return {"message": SIGNIN_SENT}


@router.get(
    "/signin/post",
    status_code=302,
    response_class=RedirectResponse,
    responses={**FAILURES, 504: {"model": Failure}},
)
async def follow_link(
    request: Request,
    token: Annotated[str, Query(min_length=10, max_length=200)],
) -> RedirectResponse:
    """Redeem a mailed link: create the user if new, open the wallet, set the session cookie
    and redirect to the dashboard. A link works once, for 5 minutes."""
    engine, sessions, settings = (
        engine_of(request),
        session_tokens_of(request),
        settings_of(request),
    )
    email = await links_of(request).redeem(token)
    if email is None:
        raise ApiError(400, "this sign-in link is invalid, expired or already used", "BAD_LINK")
    user_id, created = await Users(database_of(request)).sign_in(email)
    reply = await engine.send(InitializeWallet(engine.new_request_id(), user_id, email))
    if not reply.ok:
        raise ApiError(503, f"the wallet could not be opened: {reply.message}", reply.code)
    session = sessions.new_session(user_id, email)
    await session_store_of(request).open(session)
    log.info("signed in", user_id=user_id, new_user=created)
    response = RedirectResponse(f"{settings.frontend_url}/dashboard", status_code=302)
    response.set_cookie(
        AUTH_COOKIE,
        sessions.sign(session),
        max_age=sessions.lifetime_s,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout", response_model=Message, responses={401: {"model": Failure}})
async def logout(
    request: Request,
    response: Response,
    session: OptionalSessionDep,
    everywhere: Annotated[
        bool, Query(alias="all", description="end every session of the trader")
    ] = False,
) -> dict[str, str]:
    """End the session (the cookie's or the Bearer token's) on every server process at once,
    and clear the cookie. `?all=true` ends every session of the trader, everywhere."""
    store = session_store_of(request)
    if everywhere:
        if session is None:
            raise ApiError(401, "sign in first to sign out everywhere", "UNAUTHENTICATED")
        ended = await store.revoke_all(session.user_id)
        log.info("signed out everywhere", user_id=session.user_id, sessions=ended)
    elif session is not None:
        await store.revoke(session)
    response.delete_cookie(
        AUTH_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
    )
    return {"message": "signed out"}

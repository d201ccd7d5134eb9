"""Sending the sign-in mail: `console` (logs the link), `smtp` (aiosmtplib), `resend`."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from exness.log import get_logger
from exness.settings import Settings

__all__ = ["ConsoleMailer", "MailError", "Mailer", "ResendMailer", "SmtpMailer", "make_mailer"]

log = get_logger(__name__)


class MailError(Exception):
    """The mail could not be handed to the mail service."""


class Mailer(Protocol):
    async def send(self, to: str, subject: str, text: str, html: str) -> None: ...


class ConsoleMailer:
    """For development: the mail, link included, goes to the log."""

    async def send(self, to: str, subject: str, text: str, html: str) -> None:
        log.info("mail (console backend)", to=to, subject=subject, text=text)


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls

    async def send(self, to: str, subject: str, text: str, html: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=10,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailError(f"SMTP {self.host}:{self.port}: {error}") from error


class ResendMailer:
    def __init__(self, api_key: str, sender: str) -> None:
        import resend

        resend.api_key = api_key
        self._resend = resend
        self.sender = sender

    async def send(self, to: str, subject: str, text: str, html: str) -> None:
        params = {"from": self.sender, "to": [to], "subject": subject, "html": html, "text": text}
        try:  # the SDK is synchronous: keep the event loop free
            # type: ignore: the SDK wants its own TypedDict, of which params has the shape
            await asyncio.to_thread(self._resend.Emails.send, params)  # type: ignore[arg-type]
        except Exception as error:  # the SDK raises its own tree and requests' errors
            raise MailError(f"Resend: {error}") from error


def make_mailer(settings: Settings) -> Mailer:
    if settings.email_backend == "smtp":
        assert settings.smtp_host is not None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            settings.smtp_username,
            password,
            settings.smtp_starttls,
        )
    if settings.email_backend == "resend":
        assert settings.resend_api_key is not None
        return ResendMailer(settings.resend_api_key.get_secret_value(), settings.mail_from)
    return ConsoleMailer()

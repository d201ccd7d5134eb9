"""Choosing the mail backend from the settings, and what each hands to its service. SMTP
is tested for real against an aiosmtpd sink in the e2e suite; Resend is a remote API, so
here its SDK call is replaced and only what we pass to it is checked."""

from __future__ import annotations

import pytest

from exness.adapters.mail import (
    ConsoleMailer,
    MailError,
    ResendMailer,
    SmtpMailer,
    make_mailer,
)
from exness.settings import get_settings


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({}, ConsoleMailer),
        ({"EMAIL_BACKEND": "smtp", "SMTP_HOST": "mail.test", "SMTP_PORT": "2525"}, SmtpMailer),
        ({"EMAIL_BACKEND": "resend", "RESEND_API_KEY": "re_test"}, ResendMailer),
    ],
)
def test_the_backend_follows_the_settings(monkeypatch, tmp_path, env, kind):
    monkeypatch.setenv("EXNESS_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    mailer = make_mailer(get_settings())
    assert type(mailer) is kind
    if kind is SmtpMailer:
        assert (mailer.host, mailer.port) == ("mail.test", 2525)


async def test_resend_gets_the_whole_message(monkeypatch):
    mailer = ResendMailer("re_test", "Exness <no-reply@exness.test>")
    sent = []
    monkeypatch.setattr(mailer._resend.Emails, "send", lambda params: sent.append(params))
    await mailer.send("a@b.c", "Your link", "text with link", "<p>link</p>")
    assert sent == [
        {
            "from": "Exness <no-reply@exness.test>",
            "to": ["a@b.c"],
            "subject": "Your link",
            "html": "<p>link</p>",
            "text": "text with link",
        }
    ]


async def test_a_resend_failure_is_a_mail_error(monkeypatch):
    mailer = ResendMailer("re_test", "x@y.z")

    def refuse(params):
        raise RuntimeError("401 invalid key")

    monkeypatch.setattr(mailer._resend.Emails, "send", refuse)
    with pytest.raises(MailError, match="invalid key"):
        await mailer.send("a@b.c", "s", "t", "h")


async def test_an_unreachable_smtp_server_is_a_mail_error():
    mailer = SmtpMailer("127.0.0.1", 1, "x@y.z")  # nothing listens on port 1
    with pytest.raises(MailError, match=r"SMTP 127\.0\.0\.1:1"):
        await mailer.send("a@b.c", "s", "t", "h")

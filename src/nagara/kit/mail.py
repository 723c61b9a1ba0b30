"""Sending e-mail: over SMTP (STARTTLS and authentication where configured), or to the console in development.

A message carries a plain-text part and an HTML alternative, and a ``Message-ID`` made from the
caller's idempotency key, so a message sent twice after a crash is recognisably the same one.
A refusal the server gives as permanent (5xx, a refused recipient) raises :class:`MailRefused`;
anything else (4xx, a dropped connection) is an ``smtplib.SMTPException`` or ``OSError`` worth retrying.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol


class MailRefused(Exception):
    """The server refused the message for good (a 5xx answer, an unknown recipient)."""


class MailSender(Protocol):
    def send(self, to: str, subject: str, text: str, html: str, *, idempotency_key: str) -> str: ...


def build(sender: str, to: str, subject: str, text: str, html: str, idempotency_key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=idempotency_key, domain=domain)
    message.set_content(text, charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


@dataclass
class ConsoleMail:
    """Prints each message's subject and text to standard error (development only)."""

    sent: list[EmailMessage] = field(default_factory=list)
    sender: str = "nagara@localhost"

    def send(self, to: str, subject: str, text: str, html: str, *, idempotency_key: str) -> str:
        message = build(self.sender, to, subject, text, html, idempotency_key)
        self.sent.append(message)
        sys.stderr.write(f"[mail to {to}] {subject}\n{text}\n")
        sys.stderr.flush()
        return str(message["Message-ID"])


@dataclass
class SmtpMail:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = True
    timeout: float = 15.0
    tls_context: ssl.SSLContext | None = None

    def send(self, to: str, subject: str, text: str, html: str, *, idempotency_key: str) -> str:
        message = build(self.sender, to, subject, text, html, idempotency_key)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRefused(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise MailRefused(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
        return str(message["Message-ID"])

"""Sending SMS: an interface, a console implementation for development, an HTTP provider for production."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Protocol

import httpx

log = logging.getLogger("nagara.sms")


class SmsSender(Protocol):
    def send(self, to: str, text: str, *, idempotency_key: str) -> None: ...


@dataclass
class ConsoleSms:
    """Prints each message to the server's standard error (development only; refused in production)."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, to: str, text: str, *, idempotency_key: str) -> None:
        self.sent.append((to, text))
        sys.stderr.write(f"[sms to {to}] {text}\n")
        sys.stderr.flush()


@dataclass
class HttpSms:
    """A JSON-over-HTTPS SMS gateway of the kind Indian providers offer (DLT-registered sender id).

    POSTs ``{"to", "text", "sender"}`` with a bearer token and an
    ``Idempotency-Key`` header so a retried job does not send twice where the
    provider honours it. Any non-2xx answer raises, and the job is retried.
    """

    url: str
    token: str
    sender_id: str
    timeout: float = 10.0
    client: httpx.Client | None = None

    def send(self, to: str, text: str, *, idempotency_key: str) -> None:
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            response = client.post(
                self.url,
                json={"to": to, "text": text, "sender": self.sender_id},
                headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": idempotency_key},
            )
            response.raise_for_status()
        finally:
            if self.client is None:
                client.close()

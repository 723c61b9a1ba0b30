"""Sending SMS: an interface, a console implementation for development, an HTTP provider for production.

Indian operators deliver an application-to-person SMS only when it carries the sender id (header)
and the template id registered on their DLT platform (TRAI's TCCCPR 2018), and the principal
entity's id; :class:`HttpSms` sends them when given. A delivery receipt comes back later, signed,
to ``POST /api/v1/notifications/receipts/sms`` (``nagara.notifications``).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from nagara.kit.smstext import segments

log = logging.getLogger("nagara.sms")


class SmsSender(Protocol):
    def send(
        self,
        to: str,
        text: str,
        *,
        idempotency_key: str,
        dlt_template_id: str | None = None,
        dlt_entity_id: str | None = None,
        header: str | None = None,
    ) -> str | None: ...


@dataclass
class ConsoleSms:
    """Prints each message to the server's standard error (development only; refused in production)."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(
        self,
        to: str,
        text: str,
        *,
        idempotency_key: str,
        dlt_template_id: str | None = None,
        dlt_entity_id: str | None = None,
        header: str | None = None,
    ) -> str | None:
        self.sent.append((to, text))
        sys.stderr.write(f"[sms to {to}] {text}\n")
        sys.stderr.flush()
        return None


@dataclass
class HttpSms:
    """A JSON-over-HTTPS SMS gateway of the kind Indian providers offer (DLT-registered sender id).

    POSTs ``{"to", "text", "sender"}`` (and, for a DLT template, ``dlt_template_id``,
    ``dlt_entity_id``, ``encoding`` and ``segments``) with a bearer token and an
    ``Idempotency-Key`` header so a retried job does not send twice where the provider honours
    it. Any non-2xx answer raises (``httpx.HTTPStatusError``: a 4xx other than 408 and 429 is the
    provider refusing the message, anything else is worth retrying). Returns the provider's
    message id (``id`` of the JSON answer) when it gives one: delivery receipts name it.
    """

    url: str
    token: str
    sender_id: str
    timeout: float = 10.0
    client: httpx.Client | None = None

    def send(
        self,
        to: str,
        text: str,
        *,
        idempotency_key: str,
        dlt_template_id: str | None = None,
        dlt_entity_id: str | None = None,
        header: str | None = None,
    ) -> str | None:
        body: dict[str, Any] = {"to": to, "text": text, "sender": header or self.sender_id}
        if dlt_template_id is not None:
            parts = segments(text)
            body |= {
                "dlt_template_id": dlt_template_id,
                "dlt_entity_id": dlt_entity_id,
                "encoding": parts.encoding,
                "segments": parts.count,
            }
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            response = client.post(
                self.url, json=body, headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": idempotency_key}
            )
            response.raise_for_status()
            try:
                answer = response.json()
            except ValueError:
                return None
            ident = answer.get("id") if isinstance(answer, dict) else None
            return str(ident) if ident is not None else None
        finally:
            if self.client is None:
                client.close()

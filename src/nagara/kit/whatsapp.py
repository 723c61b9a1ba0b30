"""WhatsApp Business Cloud API: template messages (the only kind a business may start a conversation with).

``POST {api_url}/{phone_number_id}/messages`` with a bearer token and
``{"messaging_product": "whatsapp", "to", "type": "template", "template": {"name", "language":
{"code"}, "components": [{"type": "body", "parameters": [{"type": "text", "text"}...]}]}}``; the
answer names the message (``messages[0].id``, a ``wamid``). Non-2xx raises ``httpx.HTTPStatusError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx


class WhatsAppSender(Protocol):
    def send(self, to: str, template: str, language: str, parameters: list[str], *, idempotency_key: str) -> str: ...


@dataclass
class CloudWhatsApp:
    api_url: str  # https://graph.facebook.com/v21.0
    phone_number_id: str
    token: str
    timeout: float = 10.0
    client: httpx.Client | None = None

    def send(self, to: str, template: str, language: str, parameters: list[str], *, idempotency_key: str) -> str:
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
            "type": "template",
            "template": {
                "name": template,
                "language": {"code": language},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}],
            },
            "biz_opaque_callback_data": idempotency_key,
        }
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            response = client.post(
                f"{self.api_url.rstrip('/')}/{self.phone_number_id}/messages",
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
            )
            response.raise_for_status()
            return str(response.json()["messages"][0]["id"])
        finally:
            if self.client is None:
                client.close()

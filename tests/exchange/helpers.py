"""Signing requests as another member would, and reading what the exchange kept."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from nagara.exchange import httpsig, service
from nagara.exchange.models import LogRecord
from nagara.kit.db import utcnow
from nagara.ledger.models import PendingEntry
from nagara.runtime import Runtime

PEER = "IN/GOV/KA-NAGARA/portal"
PEER_DID = "did:web:ka.nagara.example"


@dataclass
class Peer:
    identifier: str
    key: Ed25519PrivateKey
    key_id: str

    @property
    def public(self) -> str:
        return service.b64url(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def new_peer(identifier: str = PEER, did: str = PEER_DID, name: str = "k1") -> Peer:
    return Peer(identifier, Ed25519PrivateKey.generate(), f"{did}#{name}")


def register(
    rt: Runtime,
    peer: Peer,
    *,
    services: tuple[str, ...] = ("certificate-verify", "certificate-credential"),
    purposes: tuple[str, ...] = ("service-application",),
    base_url: str = "",
    rate: int = 600,
    state: str = "kl",
) -> None:
    with rt.db.unit_of_work() as s:
        service.register_member(
            s,
            None,
            identifier=peer.identifier,
            name="Karnataka Nagara",
            did=peer.key_id.split("#")[0],
            state_code=state,
            base_url=base_url,
            services=services,
            purposes=purposes,
            requests_per_minute=rate,
            keys={peer.key_id: peer.public},
        )


def signed(
    peer: Peer,
    name: str,
    payload: dict[str, Any] | bytes,
    *,
    at: datetime | None = None,
    nonce: str | None = None,
    key: Ed25519PrivateKey | None = None,
) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of a request from ``peer``, signed as RFC 9421 says."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    path = f"/exchange/v1/services/{name}"
    now = at or utcnow()
    headers = {"content-type": "application/json", "content-digest": httpsig.content_digest(body), "date": service.http_date(now)}
    signature = httpsig.sign(
        key or peer.key,
        keyid=peer.key_id,
        values=service.component_values("POST", path, headers),
        components=httpsig.REQUEST_COMPONENTS,
        created=int(now.timestamp()),
        nonce=nonce or secrets.token_urlsafe(18),
    )
    return path, body, headers | {k.lower(): v for k, v in signature.items()}


def kept(rt: Runtime) -> tuple[int, int]:
    """(exchange log rows, pending ledger entries of the exchange)."""
    with rt.db.unit_of_work(readonly=True) as s:
        logs = s.scalar(select(func.count()).select_from(LogRecord)) or 0
        pending = s.scalar(select(func.count()).select_from(PendingEntry).where(PendingEntry.type.like("exchange.%"))) or 0
    return logs, pending

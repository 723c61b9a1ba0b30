"""Consent records (DPDP Act 2023 s.6; Rules 2025): where consent is the basis, a signed artefact.

Most of what a local body processes is a legitimate use (s.7: the citizen applied for a
certificate or licence) and needs no consent. Where consent is the basis (a messaging channel the
citizen chose beyond the one the service needs, sharing a record with another department or
state, use in studies beyond the published statistics), each consent is a machine-readable
artefact shaped after MeitY's Electronic Consent Framework and the Account Aggregator (ReBIT)
consent artefact: the data principal (by id), the data fiduciary, the consumer it goes to, the
purpose, the data items, the validity and how it was given. The platform signs it (a compact JWS,
EdDSA, with the node's credential key: ``certificates.issuer``) and puts the hash of its RFC 8785
form on the public ledger in the same transaction. A withdrawal is one call, effective at once
(:func:`active` answers None from that moment), and recorded the same way.

Other domains call :func:`record` (and :func:`active` before they rely on a consent); a consent
that stands for another domain's record names it in ``source`` (``exchange:<id>``), and a
withdrawal here is passed on to that domain through :data:`WITHDRAW_SOURCE` (registered in
``domains.wire``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.certificates.issuer import issuer_for
from nagara.kit.access import Principal, require
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Forbidden, Invalid, NotFound
from nagara.ledger import entry as ledger_entries
from nagara.ledger import service as ledger
from nagara.ledger.models import LogEntry, PendingEntry
from nagara.privacy.models import ConsentRecord
from nagara.runtime import runtime_of
from nagara.tenancy.context import parse_tenant, place
from nagara.web.i18n import N_

VERSION = "1.0"
OWN_DATA = "identity:profile:read"  # a citizen acts on their own consents under the right to their own profile
GIVEN = "privacy.consent_given"
WITHDRAWN = "privacy.consent_withdrawn"
VIA = ("portal", "api", "assisted")
MAX_DAYS = 365


@dataclass(frozen=True)
class Purpose:
    name: str  # English, translated where shown (N_)
    data_items: tuple[str, ...]


# The purposes for which consent, not a legitimate use, is the basis. Another domain that asks
# for consent adds its purpose here, so the citizen's page can name it in their language.
PURPOSES: dict[str, Purpose] = {
    "notifications.channel": Purpose(
        N_("Messages about your applications on a channel you chose (e-mail or WhatsApp)"),
        ("contact address of the channel", "application numbers and statuses"),
    ),
    "exchange.share": Purpose(
        N_("Sharing a record of yours with another department or state you named"),
        ("the record named in the consent",),
    ),
    "analytics.research": Purpose(
        N_("Use of your records in studies beyond the published statistics"),
        ("applications and their history", "grievances"),
    ),
}

# ``source`` prefix -> how that domain withdraws its own record (``domains.wire`` registers them).
WITHDRAW_SOURCE: dict[str, Callable[[Session, Principal, str], None]] = {}


def _canonical(artefact: dict[str, Any]) -> bytes:
    return bytes(rfc8785.dumps(artefact))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(session: Session, artefact: dict[str, Any]) -> tuple[str, str]:
    """The compact JWS (EdDSA) of the artefact's RFC 8785 bytes, and their SHA-256."""
    issuer = issuer_for(runtime_of(session).settings)
    payload = _canonical(artefact)
    header = _b64url(json.dumps({"alg": "EdDSA", "kid": issuer.verification_method, "typ": "consent+jws"}).encode())
    body = _b64url(payload)
    signature = issuer.key.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{_b64url(signature)}", hashlib.sha256(payload).hexdigest()


def _when(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _ledger_content(record: ConsentRecord, *, withdrawn: bool) -> dict[str, Any]:
    if withdrawn:
        return {"consent": record.id, "artefact_sha256": record.withdrawal_sha256, "event": "withdrawn"}
    return {"consent": record.id, "artefact_sha256": record.sha256, "event": "given"}


def record(
    session: Session,
    *,
    principal_id: str,
    fiduciary: str,
    purpose: str,
    via: str,
    valid_until: datetime,
    recipient: str | None = None,
    data_items: list[str] | None = None,
    source: str | None = None,
) -> ConsentRecord:
    """Record a consent the principal gave: the signed artefact, and its hash on the ledger in this transaction."""
    if purpose not in PURPOSES:
        raise Invalid("invalid purpose", [{"loc": ["purpose"], "msg": f"one of {', '.join(PURPOSES)}", "type": "value_error"}])
    if via not in VIA:
        raise ValueError(f"a consent is given through one of {VIA}, not {via!r}")
    now = utcnow()
    if valid_until <= now:
        raise Invalid("invalid validity", [{"loc": ["days"], "msg": "a consent must be valid for a time", "type": "value_error"}])
    tenant = parse_tenant(fiduciary)
    place(session, fiduciary)  # the fiduciary exists (NotFound otherwise)
    row = ConsentRecord(
        id=new_id(),
        principal_id=principal_id,
        state_code=tenant.state,
        fiduciary=fiduciary,
        purpose=purpose,
        recipient=recipient,
        source=source,
        valid_from=now,
        valid_until=valid_until,
        given_via=via,
    )
    base_url = runtime_of(session).settings.base_url.rstrip("/")
    row.artefact = {
        "ver": VERSION,
        "consentId": row.id,
        "createTimestamp": _when(now),
        "ConsentDetail": {
            "consentStart": _when(now),
            "consentExpiry": _when(valid_until),
            "revocable": True,
            "DataPrincipal": {"id": principal_id, "idType": "nagara-user"},
            "DataFiduciary": {"id": fiduciary, "type": "LOCAL_BODY" if tenant.local_body else "STATE"},
            "DataConsumer": {"id": recipient, "type": "MEMBER"} if recipient else None,
            "Purpose": {"code": purpose, "text": PURPOSES[purpose].name, "refUri": f"{base_url}/my/data/consents"},
            "DataItems": list(data_items or PURPOSES[purpose].data_items),
            "ConsentGiven": {"via": via, "at": _when(now)},
            "ConsentUse": {"logUri": f"{base_url}/ledger", "ledgerSubject": f"consent/{row.id}"},
            "source": source,
        },
    }
    row.signed, row.sha256 = _sign(session, row.artefact)
    session.add(row)
    ledger.append(
        session,
        type=GIVEN,
        tenant_code=fiduciary,
        subject=f"consent/{row.id}",
        content=_ledger_content(row, withdrawn=False),
        actor_role=None,
    )
    session.flush()
    return row


def give(
    session: Session,
    principal: Principal,
    *,
    purpose: str,
    days: int,
    fiduciary: str | None = None,
    recipient: str | None = None,
    via: str = "api",
) -> ConsentRecord:
    """A citizen gives consent for one of :data:`PURPOSES`, to their state or one of its local bodies."""
    require(principal, OWN_DATA, owner_id=principal.user_id, state_code=principal.state_code)
    if principal.kind != "citizen" or principal.state_code is None:
        raise Forbidden("only a citizen gives consent about their own data")
    fiduciary = fiduciary or principal.state_code
    if parse_tenant(fiduciary).state != principal.state_code:
        raise Invalid(
            "invalid fiduciary",
            [
                {
                    "loc": ["fiduciary"],
                    "msg": f"your state {principal.state_code} or one of its local bodies",
                    "type": "value_error",
                }
            ],
        )
    if not 1 <= days <= MAX_DAYS:
        raise Invalid("invalid validity", [{"loc": ["days"], "msg": f"1 to {MAX_DAYS} days", "type": "value_error"}])
    return record(
        session,
        principal_id=principal.user_id,
        fiduciary=fiduciary,
        purpose=purpose,
        via=via,
        valid_until=utcnow() + timedelta(days=days),
        recipient=recipient,
    )


def withdraw_record(session: Session, row: ConsentRecord, *, via: str) -> ConsentRecord:
    """Withdraw at once: the signed withdrawal artefact, its hash on the ledger. Withdrawing twice changes nothing."""
    if row.withdrawn_at is not None:
        return row
    now = utcnow()
    row.withdrawn_at = now
    row.withdrawn_via = via
    row.withdrawal = {
        "ver": VERSION,
        "consentId": row.id,
        "status": "REVOKED",
        "revokeTimestamp": _when(now),
        "revokedVia": via,
        "consentSha256": row.sha256,
        "DataPrincipal": {"id": row.principal_id, "idType": "nagara-user"},
    }
    row.withdrawal_signed, row.withdrawal_sha256 = _sign(session, row.withdrawal)
    ledger.append(
        session,
        type=WITHDRAWN,
        tenant_code=row.fiduciary,
        subject=f"consent/{row.id}",
        content=_ledger_content(row, withdrawn=True),
        actor_role=None,
    )
    session.flush()
    return row


def _own(session: Session, principal: Principal, consent_id: str, *, lock: bool = False) -> ConsentRecord:
    require(principal, OWN_DATA, owner_id=principal.user_id, state_code=principal.state_code)
    row = session.get(ConsentRecord, consent_id[:36], with_for_update=lock) if consent_id else None
    if row is None or row.principal_id != principal.user_id:
        raise NotFound(f"you have no consent {consent_id[:36]!r}")
    return row


def withdraw(session: Session, principal: Principal, consent_id: str, *, via: str = "api") -> ConsentRecord:
    """The citizen withdraws one of their consents; the domain it stands for (``source``) withdraws its record too."""
    row = _own(session, principal, consent_id, lock=True)
    if row.withdrawn_at is not None:
        return row
    withdraw_record(session, row, via=via)
    if row.source:
        prefix, _, ref = row.source.partition(":")
        passed_on = WITHDRAW_SOURCE.get(prefix)
        if passed_on is not None:
            passed_on(session, principal, ref)
    return row


def withdraw_source(session: Session, source: str, *, via: str) -> ConsentRecord | None:
    """Another domain's record was withdrawn there: withdraw the consent that stands for it."""
    row = session.scalar(select(ConsentRecord).where(ConsentRecord.source == source).with_for_update())
    return withdraw_record(session, row, via=via) if row is not None else None


def get(session: Session, principal: Principal, consent_id: str) -> ConsentRecord:
    return _own(session, principal, consent_id)


def mine(session: Session, principal: Principal) -> list[ConsentRecord]:
    require(principal, OWN_DATA, owner_id=principal.user_id, state_code=principal.state_code)
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.principal_id == principal.user_id)
        .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id)
    )
    return list(session.scalars(query))


def active(
    session: Session, principal_id: str, purpose: str, *, recipient: str | None = None, at: datetime | None = None
) -> ConsentRecord | None:
    """The principal's consent for ``purpose`` (to ``recipient``) in force now, or None: check it before relying on it."""
    at = at or utcnow()
    query = select(ConsentRecord).where(
        ConsentRecord.principal_id == principal_id,
        ConsentRecord.purpose == purpose,
        ConsentRecord.withdrawn_at.is_(None),
        ConsentRecord.valid_from <= at,
        ConsentRecord.valid_until > at,
    )
    if recipient is not None:
        query = query.where(ConsentRecord.recipient == recipient)
    return session.scalars(query.order_by(ConsentRecord.created_at.desc()).limit(1)).first()


def status(row: ConsentRecord, at: datetime | None = None) -> str:
    if row.withdrawn_at is not None:
        return "withdrawn"
    return "expired" if row.valid_until <= (at or utcnow()) else "active"


# --- verification ---------------------------------------------------------------------------------


def verify_jws(session: Session, signed: str, artefact: dict[str, Any]) -> bool:
    """The JWS was made by this node's credential key over exactly this artefact."""
    try:
        header_b64, body_b64, signature_b64 = signed.split(".")
        header = json.loads(_unb64url(header_b64))
        if header.get("alg") != "EdDSA" or _unb64url(body_b64) != _canonical(artefact):
            return False
        issuer_for(runtime_of(session).settings).public_key.verify(_unb64url(signature_b64), f"{header_b64}.{body_b64}".encode())
    except (ValueError, InvalidSignature):
        return False
    return True


def _entry_bodies(session: Session, subject: str) -> list[bytes]:
    """The ledger entries for a subject, pending or integrated (read from their entry bundles)."""
    bodies = list(session.scalars(select(PendingEntry.body).where(PendingEntry.subject == subject)))
    if session.scalar(select(LogEntry.idx).where(LogEntry.subject == subject).limit(1)) is not None:
        settings = runtime_of(session).settings
        bodies += [found.body for found in ledger.subject_entries(session, settings, subject).entries]
    return bodies


def on_ledger(session: Session, row: ConsentRecord, *, withdrawn: bool = False) -> bool:
    """An entry of the ledger commits to this consent's (or its withdrawal's) artefact hash."""
    content = _ledger_content(row, withdrawn=withdrawn)
    for body in _entry_bodies(session, f"consent/{row.id}"):
        parsed = ledger_entries.parse_entry(body)
        if parsed.type == (WITHDRAWN if withdrawn else GIVEN) and ledger_entries.verify_content(
            parsed, content, ledger.entry_salt_for(session, parsed.salt_id)
        ):
            return True
    return False


@dataclass(frozen=True)
class Verification:
    signature: bool  # the artefact is the one the platform signed and hashes to its recorded sha256
    on_ledger: bool  # its hash is committed to by a ledger entry
    withdrawal_signature: bool | None  # the same for the withdrawal (None: not withdrawn)
    withdrawal_on_ledger: bool | None


def verify(session: Session, row: ConsentRecord) -> Verification:
    signature = (
        verify_jws(session, row.signed, row.artefact) and hashlib.sha256(_canonical(row.artefact)).hexdigest() == row.sha256
    )
    withdrawn = row.withdrawal is not None and row.withdrawal_signed is not None
    return Verification(
        signature=signature,
        on_ledger=on_ledger(session, row),
        withdrawal_signature=(
            verify_jws(session, row.withdrawal_signed or "", row.withdrawal or {})
            and hashlib.sha256(_canonical(row.withdrawal or {})).hexdigest() == row.withdrawal_sha256
        )
        if withdrawn
        else None,
        withdrawal_on_ledger=on_ledger(session, row, withdrawn=True) if withdrawn else None,
    )

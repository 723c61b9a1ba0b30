"""The exchange's operations: the member registry and keys, consents, the gate every signed request passes, the log.

A signed request is admitted in this order, each failure a problem+json and nothing kept but
the try counted against the member's rate: the signature fields parse; the key it names belongs
to an active member; the body matches its Content-Digest; ``created`` and ``Date`` are inside
the clock window; the Ed25519 signature verifies; then, in a transaction of its own that commits
even when refused, one try of the member's per-minute allowance (``kit.limits``) and the nonce
(a second use is a replay). The service then runs in another transaction that also writes the
log row and its ledger entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from nagara.certificates.issuer import did_web
from nagara.exchange import httpsig
from nagara.exchange.events import ConsentGranted, ConsentWithdrawn
from nagara.exchange.models import ACTIVE, RETIRED, SUSPENDED, Consent, LogRecord, Member, MemberKey, OwnKey, SeenNonce
from nagara.kit import limits
from nagara.kit.access import Principal, require, require_any, scope
from nagara.kit.db import insert_if_absent, new_id, utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound, Problem, TooManyRequests
from nagara.ledger import service as ledger
from nagara.runtime import runtime_of
from nagara.worker.events import emit

MANAGE = "exchange:member:manage"
SERVICES = (
    "certificate-verify",
    "certificate-credential",
    "application-status",
    "property-tax-clearance",
    "move-home",
    "move-home-decision",
    "digilocker",
)
CONSENTED = ("certificate-credential", "property-tax-clearance", "move-home")
IDENTIFIER_RE = re.compile(r"[A-Z0-9][A-Za-z0-9._-]{0,39}(/[A-Za-z0-9][A-Za-z0-9._-]{0,39}){3}")
DID_RE = re.compile(r"did:web:[A-Za-z0-9.%-]{1,120}(:[A-Za-z0-9._%-]{1,60}){0,4}")
KEY_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
PURPOSE_RE = re.compile(r"[a-z][a-z0-9-]{1,63}")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
RATE_WINDOW = timedelta(minutes=1)


# Problems a caller of the exchange sees; each names what was wrong.
class SignatureRefused(Problem):
    status = 401
    type_slug = "exchange-signature"
    title = "Signature refused"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, extra={"reason": reason})


class DigestMismatch(Problem):
    status = 400
    type_slug = "exchange-digest"
    title = "Body does not match its digest"


class UnknownMember(Problem):
    status = 401
    type_slug = "exchange-unknown-member"
    title = "Unknown member or key"


class MemberSuspended(Problem):
    status = 403
    type_slug = "exchange-member-suspended"
    title = "Member suspended"


class OutsideClockWindow(Problem):
    status = 401
    type_slug = "exchange-clock"
    title = "Request outside the clock window"


class Replayed(Problem):
    status = 409
    type_slug = "exchange-replay"
    title = "Request replayed"


class ServiceNotAllowed(Problem):
    status = 403
    type_slug = "exchange-service-not-allowed"
    title = "Service not allowed for this member"


class ConsentRefused(Problem):
    status = 403
    type_slug = "exchange-consent"
    title = "No valid consent"


class NoExchangeKey(Problem):
    status = 503
    type_slug = "exchange-no-key"
    title = "This node has no exchange key"


# Keys ---------------------------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key_of(text: str, loc: Sequence[str | int] = ("public_key",)) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise Invalid(
            "invalid key", [{"loc": list(loc), "msg": "an Ed25519 public key: 32 bytes, base64url", "type": "value_error"}]
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def node_did(session: Session) -> str:
    return did_web(runtime_of(session).settings.base_url)


def rotate_own_key(session: Session, name: str | None = None) -> OwnKey:
    """A new signing key, active at once; the older ones stay active (published, accepted by peers) until retired."""
    key = Ed25519PrivateKey.generate()
    key_name = name or f"exchange-{utcnow():%Y%m%d}-{new_id()[:8]}"
    if not KEY_NAME_RE.fullmatch(key_name):
        raise Invalid("invalid key name", [{"loc": ["name"], "msg": "letters, digits, . _ -", "type": "value_error"}])
    key_id = f"{node_did(session)}#{key_name}"
    if session.get(OwnKey, key_id) is not None:
        raise Conflict(f"this node already has a key {key_id}")
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    row = OwnKey(
        key_id=key_id,
        public_key=b64url(_raw_public(key)),
        private_sealed=runtime_of(session).cipher.encrypt(b64url(private), context=f"exchange-key:{key_id}"),
    )
    session.add(row)
    session.flush()
    return row


def retire_own_key(session: Session, key_id: str) -> OwnKey:
    row = session.get(OwnKey, key_id)
    if row is None:
        raise NotFound(f"this node has no key {key_id}")
    active = session.scalar(select(func.count()).select_from(OwnKey).where(OwnKey.status == ACTIVE)) or 0
    if row.status == ACTIVE and active <= 1:
        raise Conflict("this is the node's only active key: rotate first, then retire the old one")
    row.status, row.retired_at = RETIRED, utcnow()
    session.flush()
    return row


def own_keys(session: Session) -> list[OwnKey]:
    return list(session.scalars(select(OwnKey).where(OwnKey.status == ACTIVE).order_by(OwnKey.created_at, OwnKey.key_id)))


def signing_key(session: Session) -> tuple[str, Ed25519PrivateKey]:
    """The newest active key: what this node signs with."""
    row = session.scalar(
        select(OwnKey).where(OwnKey.status == ACTIVE).order_by(OwnKey.created_at.desc(), OwnKey.key_id.desc()).limit(1)
    )
    if row is None:
        raise NoExchangeKey("this node has no exchange key yet: run `nagara exchange keys rotate`")
    raw = runtime_of(session).cipher.decrypt(row.private_sealed, context=f"exchange-key:{row.key_id}")
    return row.key_id, Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


# Members ------------------------------------------------------------------------------------


def _allowed(principal: Principal | None, state_code: str) -> None:
    """None is the node's operator at the command line."""
    if principal is not None:
        require(principal, MANAGE, state_code=state_code)


def _check_member_fields(identifier: str, did: str, services: Sequence[str], purposes: Sequence[str]) -> None:
    errors: list[dict[str, Any]] = []
    if not IDENTIFIER_RE.fullmatch(identifier):
        errors.append(
            {"loc": ["identifier"], "msg": "INSTANCE/CLASS/MEMBER/SUBSYSTEM, e.g. IN/GOV/KA-NAGARA/portal", "type": "value_error"}
        )
    if not DID_RE.fullmatch(did):
        errors.append({"loc": ["did"], "msg": "a did:web DID, e.g. did:web:ka.nagara.example", "type": "value_error"})
    for i, name in enumerate(services):
        if name not in SERVICES:
            errors.append({"loc": ["services", i], "msg": f"one of {', '.join(SERVICES)}", "type": "value_error"})
    for i, purpose in enumerate(purposes):
        if not PURPOSE_RE.fullmatch(purpose):
            errors.append({"loc": ["purposes", i], "msg": "a lower-case slug, e.g. building-permit", "type": "value_error"})
    if errors:
        raise Invalid("invalid member", errors)


def _key_id_for(did: str, key_id: str, loc: Sequence[str | int]) -> str:
    if not key_id.startswith(did + "#") or not KEY_NAME_RE.fullmatch(key_id[len(did) + 1 :]):
        raise Invalid(
            "invalid key id", [{"loc": list(loc), "msg": f"the member's DID, # and a name: {did}#key-1", "type": "value_error"}]
        )
    return key_id


def register_member(
    session: Session,
    principal: Principal | None,
    *,
    identifier: str,
    name: str,
    did: str,
    state_code: str,
    base_url: str = "",
    services: Sequence[str] = (),
    purposes: Sequence[str] = (),
    requests_per_minute: int = 600,
    keys: Mapping[str, str] | None = None,
) -> Member:
    _allowed(principal, state_code)
    _check_member_fields(identifier, did, services, purposes)
    if session.scalar(select(Member.id).where(Member.identifier == identifier)) is not None:
        raise Conflict(f"a member {identifier} is already registered")
    member = Member(
        identifier=identifier,
        name=name,
        did=did,
        state_code=state_code,
        base_url=base_url.rstrip("/"),
        services=sorted(set(services)),
        purposes=sorted(set(purposes)),
        requests_per_minute=requests_per_minute,
    )
    session.add(member)
    session.flush()
    for i, (key_id, public) in enumerate((keys or {}).items()):
        _add_key(session, member, key_id, public, ("keys", i))
    session.flush()
    return member


def _add_key(session: Session, member: Member, key_id: str, public: str, loc: Sequence[str | int]) -> MemberKey:
    _key_id_for(member.did, key_id, [*loc, "key_id"])
    public_key_of(public, [*loc, "public_key"])
    if session.get(MemberKey, key_id) is not None:
        raise Conflict(f"the key {key_id} is already registered")
    row = MemberKey(key_id=key_id, member_id=member.id, public_key=public)
    session.add(row)
    return row


def get_member(session: Session, principal: Principal | None, identifier: str) -> Member:
    member = session.scalar(select(Member).where(Member.identifier == identifier))
    if member is None:
        raise NotFound(f"no member {identifier} is registered")
    _allowed(principal, member.state_code)
    return member


def update_member(
    session: Session,
    principal: Principal | None,
    identifier: str,
    *,
    services: Sequence[str] | None = None,
    purposes: Sequence[str] | None = None,
    status: str | None = None,
    requests_per_minute: int | None = None,
    base_url: str | None = None,
) -> Member:
    member = get_member(session, principal, identifier)
    _check_member_fields(member.identifier, member.did, services or (), purposes or ())
    if status is not None and status not in (ACTIVE, SUSPENDED):
        raise Invalid("invalid status", [{"loc": ["status"], "msg": "active or suspended", "type": "value_error"}])
    if services is not None:
        member.services = sorted(set(services))
    if purposes is not None:
        member.purposes = sorted(set(purposes))
    if status is not None:
        member.status = status
    if requests_per_minute is not None:
        member.requests_per_minute = requests_per_minute
    if base_url is not None:
        member.base_url = base_url.rstrip("/")
    session.flush()
    return member


def add_member_key(session: Session, principal: Principal | None, identifier: str, key_id: str, public: str) -> MemberKey:
    """A member's new key, accepted beside its others: rotation without downtime (retire the old one later)."""
    member = get_member(session, principal, identifier)
    row = _add_key(session, member, key_id, public, ())
    session.flush()
    return row


def retire_member_key(session: Session, principal: Principal | None, identifier: str, key_id: str) -> MemberKey:
    member = get_member(session, principal, identifier)
    row = session.get(MemberKey, key_id)
    if row is None or row.member_id != member.id:
        raise NotFound(f"{identifier} has no key {key_id}")
    row.status, row.retired_at = RETIRED, utcnow()
    session.flush()
    return row


def member_keys(session: Session, member: Member) -> list[MemberKey]:
    return list(session.scalars(select(MemberKey).where(MemberKey.member_id == member.id).order_by(MemberKey.created_at)))


def list_members(session: Session, principal: Principal | None) -> list[Member]:
    query = select(Member).order_by(Member.identifier)
    if principal is not None:
        require_any(principal, MANAGE)
        query = query.where(scope(principal, MANAGE, state_col=Member.state_code))
    return list(session.scalars(query))


@dataclass(frozen=True)
class Traffic:
    service: str
    direction: str
    status: int
    count: int
    last_at: datetime


def member_traffic(
    session: Session, principal: Principal | None, identifier: str
) -> tuple[Member, list[Traffic], list[LogRecord]]:
    """A member's exchanges by service, direction and answer, and its latest 50."""
    member = get_member(session, principal, identifier)
    rows = session.execute(
        select(LogRecord.service, LogRecord.direction, LogRecord.status, func.count(), func.max(LogRecord.created_at))
        .where(LogRecord.member_id == member.id)
        .group_by(LogRecord.service, LogRecord.direction, LogRecord.status)
        .order_by(LogRecord.service, LogRecord.direction, LogRecord.status)
    )
    traffic = [Traffic(s, d, st, int(n), last) for s, d, st, n, last in rows]
    latest = list(
        session.scalars(select(LogRecord).where(LogRecord.member_id == member.id).order_by(LogRecord.created_at.desc()).limit(50))
    )
    return member, traffic, latest


# Consents -----------------------------------------------------------------------------------


def grant_consent(
    session: Session,
    principal: Principal,
    *,
    member_identifier: str,
    service: str,
    resource: str,
    purpose: str,
    days: int,
    owner_of: Any,
) -> Consent:
    """A citizen lets a member call ``service`` about their record ``resource`` for ``purpose``, for ``days``.

    ``owner_of(session, service, resource)`` answers (citizen id, state code) of the record, or None.
    """
    if principal.kind != "citizen":
        raise Forbidden("only the citizen the record is about consents to sharing it")
    if service not in CONSENTED:
        raise Invalid("invalid service", [{"loc": ["service"], "msg": f"one of {', '.join(CONSENTED)}", "type": "value_error"}])
    member = session.scalar(select(Member).where(Member.identifier == member_identifier, Member.status == ACTIVE))
    if member is None:
        raise Invalid(
            "unknown member", [{"loc": ["member"], "msg": f"no active member {member_identifier}", "type": "value_error"}]
        )
    if purpose not in member.purposes:
        raise Invalid(
            "invalid purpose",
            [
                {
                    "loc": ["purpose"],
                    "msg": f"{member_identifier} may state: {', '.join(member.purposes) or 'none'}",
                    "type": "value_error",
                }
            ],
        )
    owner = owner_of(session, service, resource)
    if owner is None or owner[0] != principal.user_id:
        raise NotFound(f"you have no record {resource.strip()!r} here")
    consent = Consent(
        citizen_id=principal.user_id,
        member_id=member.id,
        service=service,
        resource=resource.strip().upper() if service == "certificate-credential" else resource.strip(),
        purpose=purpose,
        expires_at=utcnow() + timedelta(days=days),
        state_code=owner[1],
    )
    session.add(consent)
    session.flush()
    emit(session, ConsentGranted(consent=consent, member=member.identifier))
    return consent


def my_consents(session: Session, principal: Principal) -> list[tuple[Consent, str]]:
    rows = session.execute(
        select(Consent, Member.identifier)
        .join(Member, Member.id == Consent.member_id)
        .where(Consent.citizen_id == principal.user_id)
        .order_by(Consent.created_at.desc())
    )
    return [(c, ident) for c, ident in rows]


def withdraw_consent(session: Session, principal: Principal, consent_id: str) -> Consent:
    consent = session.get(Consent, consent_id, with_for_update=True)
    if consent is None or consent.citizen_id != principal.user_id:
        raise NotFound(f"you have no consent {consent_id}")
    if consent.withdrawn_at is None:
        consent.withdrawn_at = utcnow()
        session.flush()
        emit(session, ConsentWithdrawn(consent=consent))
    return consent


def check_consent(session: Session, caller: Member, consent_id: object, service: str, resource: str, purpose: str) -> Consent:
    """The consent a member's request names, if it lets this member make this call now; else ConsentRefused."""
    if not isinstance(consent_id, str) or not consent_id:
        raise ConsentRefused(f"{service} needs the citizen's consent: send its reference as consent")
    consent = session.get(Consent, consent_id) if len(consent_id) <= 36 else None
    if consent is None or consent.member_id != caller.id:
        raise ConsentRefused(f"no consent {consent_id} was given to {caller.identifier}")
    if consent.withdrawn_at is not None:
        raise ConsentRefused(f"the citizen withdrew consent {consent_id}")
    if consent.expires_at <= utcnow():
        raise ConsentRefused(f"consent {consent_id} expired")
    if consent.service != service or consent.resource != resource or consent.purpose != purpose:
        raise ConsentRefused(f"consent {consent_id} is for {consent.service} of another record or purpose")
    return consent


def access_log(session: Session, principal: Principal) -> list[LogRecord]:
    """Who looked at my data: every exchange, served or made, about the signed-in citizen."""
    return list(
        session.scalars(
            select(LogRecord).where(LogRecord.citizen_id == principal.user_id).order_by(LogRecord.created_at.desc()).limit(200)
        )
    )


# The gate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    member_id: str
    identifier: str
    state_code: str
    services: tuple[str, ...]
    purposes: tuple[str, ...]
    requests_per_minute: int
    key_id: str
    nonce: str


def component_values(method_or_status: str | int, path: str, headers: Mapping[str, str]) -> dict[str, str]:
    values = {k.lower(): v.strip() for k, v in headers.items()}
    if isinstance(method_or_status, int):
        values["@status"] = str(method_or_status)
    else:
        values["@method"] = method_or_status.upper()
        values["@path"] = path or "/"
    return values


def authenticate(session: Session, method: str, path: str, headers: Mapping[str, str], body: bytes, now: datetime) -> Caller:
    """Who signed this request, checked (no writes): the signature, key, member, digest and clock."""
    window = runtime_of(session).settings.exchange_clock_skew_seconds
    try:
        parsed = httpsig.parse(headers.get("signature-input"), headers.get("signature"), httpsig.REQUEST_COMPONENTS)
    except httpsig.SignatureError as exc:
        raise SignatureRefused(exc.reason, str(exc)) from None
    if not NONCE_RE.fullmatch(parsed.nonce):
        raise SignatureRefused("nonce", "nonce: 16 to 128 characters of base64url")
    row = session.execute(
        select(MemberKey, Member).join(Member, Member.id == MemberKey.member_id).where(MemberKey.key_id == parsed.keyid)
    ).first()
    if row is None or row[0].status != ACTIVE:
        raise UnknownMember(f"no member of this node holds an active key {parsed.keyid!r}")
    key, member = row
    if member.status != ACTIVE:
        raise MemberSuspended(f"{member.identifier} is suspended")
    try:
        httpsig.check_content_digest(headers.get("content-digest"), body)
    except httpsig.SignatureError as exc:
        raise DigestMismatch(str(exc), extra={"reason": exc.reason}) from None
    stamp = now.timestamp()
    if abs(stamp - parsed.created) > window:
        raise OutsideClockWindow(f"the signature was created {int(stamp - parsed.created)} s from now; the window is ±{window} s")
    try:
        date = parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError):
        raise OutsideClockWindow("the Date field is missing or not an HTTP date") from None
    if date.tzinfo is None or abs(stamp - date.timestamp()) > window:
        raise OutsideClockWindow(f"Date is more than {window} s from this node's clock")
    try:
        httpsig.verify(parsed, public_key_of(key.public_key), component_values(method, path, headers))
    except httpsig.SignatureError as exc:
        raise SignatureRefused(exc.reason, str(exc)) from None
    return Caller(
        member.id,
        member.identifier,
        member.state_code,
        tuple(member.services),
        tuple(member.purposes),
        member.requests_per_minute,
        key.key_id,
        parsed.nonce,
    )


_NONCES = cast("Table", SeenNonce.__table__)


def admit(session: Session, caller: Caller) -> None:
    """Count the try against the member's rate, then take the nonce; the caller commits either way."""
    hit = limits.hit(session, f"exchange:{caller.member_id}", window=RATE_WINDOW)
    if hit.over(caller.requests_per_minute):
        raise TooManyRequests(f"{caller.identifier} may make {caller.requests_per_minute} requests a minute", hit.retry_after)
    if not insert_if_absent(session, _NONCES, {"member_id": caller.member_id, "nonce": caller.nonce, "seen_at": utcnow()}):
        raise Replayed(f"nonce {caller.nonce} was already used by {caller.identifier}: sign each request afresh")


def forget_old_nonces(session: Session) -> int:
    """Nonces older than twice the clock window can never come back inside it."""
    window = runtime_of(session).settings.exchange_clock_skew_seconds
    result = session.execute(delete(SeenNonce).where(SeenNonce.seen_at < utcnow() - timedelta(seconds=2 * window)))
    return int(getattr(result, "rowcount", 0))


def check_call(caller: Caller, service: str, purpose: object) -> str:
    if service not in caller.services:
        raise ServiceNotAllowed(
            f"{caller.identifier} may not call {service}; it may call: {', '.join(caller.services) or 'nothing'}"
        )
    if not isinstance(purpose, str) or purpose not in caller.purposes:
        raise ServiceNotAllowed(f"{caller.identifier} may state the purposes: {', '.join(caller.purposes) or 'none'}")
    return purpose


def record(
    session: Session,
    *,
    direction: str,
    member_id: str,
    member_identifier: str,
    state_code: str,
    service: str,
    purpose: str,
    consent_id: str | None,
    citizen_id: str | None,
    request_body: bytes,
    response_body: bytes,
    status: int,
    record_id: str | None = None,
) -> LogRecord:
    """The log row and its ledger entry (hashed content, no personal data), in the caller's transaction."""
    row = LogRecord(
        id=record_id or new_id(),
        direction=direction,
        member_id=member_id,
        member_identifier=member_identifier,
        service=service,
        purpose=purpose,
        consent_id=consent_id,
        citizen_id=citizen_id,
        request_sha256=hashlib.sha256(request_body).hexdigest(),
        response_sha256=hashlib.sha256(response_body).hexdigest(),
        status=status,
        state_code=state_code,
        created_at=utcnow(),
    )
    row.ledger_pending_id = ledger.append(
        session,
        type=f"exchange.{direction}",
        tenant_code=state_code,
        subject=ledger_subject(row.id),
        content=row.ledger_content(),
        actor_role="exchange_member",
    )
    session.add(row)
    session.flush()
    return row


def ledger_subject(record_id: str) -> str:
    return f"exchange:{record_id}"


def http_date(at: datetime) -> str:
    return format_datetime(at, usegmt=True)


def caller_member(session: Session, caller: Caller) -> Member:
    member = session.get(Member, caller.member_id)
    if member is None:  # deleted between the gate and the service
        raise UnknownMember(f"{caller.identifier} is no longer registered")
    return member

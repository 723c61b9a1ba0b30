"""Calling another member: sign the request, check the signed answer, log the exchange.

The answer must be signed by one of the member's registered active keys, repeat our nonce and
match its Content-Digest; otherwise it is refused (502) and nothing is logged.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.exchange import httpsig, service
from nagara.exchange.models import ACTIVE, LogRecord, Member, MemberKey
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid, Problem


class PeerFailed(Problem):
    status = 502
    type_slug = "exchange-peer"
    title = "The other member did not answer as it must"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    raw: bytes
    record: LogRecord | None


def signed_request(session: Session, method: str, path: str, body: bytes) -> dict[str, str]:
    """Content-Digest, Date and the signature of a request from this node."""
    key_id, key = service.signing_key(session)
    now = utcnow()
    headers = {"Content-Type": "application/json", "Content-Digest": httpsig.content_digest(body), "Date": service.http_date(now)}
    values = service.component_values(method, path, headers)
    headers |= httpsig.sign(
        key,
        keyid=key_id,
        values=values,
        components=httpsig.REQUEST_COMPONENTS,
        created=int(now.timestamp()),
        nonce=secrets.token_urlsafe(24),
    )
    return headers


def check_response(session: Session, member: Member, response: httpx.Response, nonce: str) -> None:
    """The answer is the member's (an active key of theirs), to this request (our nonce), unaltered (digest)."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        parsed = httpsig.parse(headers.get("signature-input"), headers.get("signature"), httpsig.RESPONSE_COMPONENTS)
        httpsig.check_content_digest(headers.get("content-digest"), response.content)
    except httpsig.SignatureError as exc:
        raise PeerFailed(f"{member.identifier} answered {response.status_code} without a valid signature: {exc}") from None
    key = session.scalar(
        select(MemberKey).where(MemberKey.key_id == parsed.keyid, MemberKey.member_id == member.id, MemberKey.status == ACTIVE)
    )
    if key is None:
        raise PeerFailed(f"{member.identifier}'s answer is signed with {parsed.keyid!r}, not one of its registered keys")
    if parsed.nonce != nonce:
        raise PeerFailed(f"{member.identifier}'s answer is to another request (nonce {parsed.nonce!r})")
    try:
        httpsig.verify(parsed, service.public_key_of(key.public_key), service.component_values(response.status_code, "", headers))
    except httpsig.SignatureError as exc:
        raise PeerFailed(f"{member.identifier}'s answer: {exc}") from None


@dataclass(frozen=True)
class Sent:
    """A checked answer, not logged yet: ``log`` writes it in a writing session."""

    member_id: str
    member_identifier: str
    state_code: str
    service: str
    payload: dict[str, Any]
    body: bytes
    response: httpx.Response
    answer: dict[str, Any]


def send(
    session: Session, member_identifier: str, service_name: str, payload: dict[str, Any], *, http: httpx.Client | None = None
) -> Sent:
    """Sign and send, and check the answer; only reads, so ``session`` may be read-only (no lock held while waiting)."""
    member = session.scalar(select(Member).where(Member.identifier == member_identifier))
    if member is None or member.status != ACTIVE:
        loc = {"loc": ["body", "member"], "msg": f"no active member {member_identifier} is here", "type": "value_error"}
        raise Invalid("unknown member", [loc])
    if not member.base_url:
        raise PeerFailed(f"{member_identifier} has no base URL to call")
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    path = f"/exchange/v1/services/{service_name}"
    headers = signed_request(session, "POST", path, body)
    nonce = httpsig.parse(headers["Signature-Input"], headers["Signature"], ()).nonce
    own = http is None
    client = http or httpx.Client(timeout=30.0)
    try:
        response = client.post(member.base_url + path, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise PeerFailed(f"{member_identifier} could not be reached: {type(exc).__name__}") from None
    finally:
        if own:
            client.close()
    check_response(session, member, response, nonce)
    try:
        answer = response.json()
    except ValueError:
        raise PeerFailed(f"{member_identifier} answered {response.status_code} with no JSON") from None
    if not isinstance(answer, dict):
        raise PeerFailed(f"{member_identifier} answered with JSON that is not an object")
    return Sent(member.id, member.identifier, member.state_code, service_name, payload, body, response, answer)


def log(session: Session, sent: Sent, *, citizen_id: str | None = None) -> Reply:
    """Log a 2xx answer (direction ``out``) with its ledger entry; refusals are not logged."""
    record = None
    if sent.response.is_success:
        record = service.record(
            session,
            direction="out",
            member_id=sent.member_id,
            member_identifier=sent.member_identifier,
            state_code=sent.state_code,
            service=sent.service,
            purpose=str(sent.payload.get("purpose", "")),
            consent_id=_consent_ref(sent.payload.get("consent")),
            citizen_id=citizen_id,
            request_body=sent.body,
            response_body=sent.response.content,
            status=sent.response.status_code,
        )
    return Reply(sent.response.status_code, sent.answer, sent.response.content, record)


def call(
    session: Session,
    member_identifier: str,
    service_name: str,
    payload: dict[str, Any],
    *,
    citizen_id: str | None = None,
    http: httpx.Client | None = None,
) -> Reply:
    """Call ``service_name`` at the member and log a 2xx answer, in one session (for a request's or job's unit of work)."""
    return log(session, send(session, member_identifier, service_name, payload, http=http), citizen_id=citizen_id)


def _consent_ref(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 36 else None

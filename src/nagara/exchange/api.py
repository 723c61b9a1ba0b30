"""Exchange routes: the signed service endpoint for members (/exchange/v1) and the administrators' and citizens' /api/v1."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from nagara.exchange import client, digilocker, httpsig, moves, offered, service
from nagara.exchange.models import Consent, LogRecord, Member, Transfer
from nagara.exchange.schemas import (
    AccessOut,
    ConsentIn,
    ConsentOut,
    DecisionIn,
    KeyIn,
    KeyOut,
    MemberIn,
    MemberOut,
    MemberPatch,
    MoveIn,
    PullIn,
    PullOut,
    TransferOut,
)
from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit import context
from nagara.kit.api import API_PREFIX, json_response
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Invalid, NotFound, Problem
from nagara.kit.metrics import EXCHANGES
from nagara.runtime import Runtime

router = APIRouter(prefix=API_PREFIX + "/exchange", tags=["exchange"])
signed_router = APIRouter(prefix="/exchange/v1", tags=["exchange"])
digilocker_router = APIRouter(prefix="/digilocker", tags=["exchange"])
PROBLEM_JSON = "application/problem+json"
PULLABLE = ("certificate-verify", "certificate-credential")
OFFERED = {**offered.OFFERED, "move-home": moves.receive, "move-home-decision": moves.hear_decision}


# The signed endpoint ------------------------------------------------------------------------


def _signed(
    rt: Runtime, status: int, body: bytes, nonce: str, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """A response signed with this node's newest key over its status and Content-Digest, repeating the request's nonce."""
    with rt.db.unit_of_work(readonly=True) as session:
        key_id, key = service.signing_key(session)
    out = {"Content-Digest": httpsig.content_digest(body), **(headers or {})}
    values = {"@status": str(status), "content-digest": out["Content-Digest"]}
    out |= httpsig.sign(
        key, keyid=key_id, values=values, components=httpsig.RESPONSE_COMPONENTS, created=int(utcnow().timestamp()), nonce=nonce
    )
    return Response(body, status_code=status, media_type=media_type, headers=out)


def _problem(rt: Runtime, exc: Problem, nonce: str) -> Response:
    body = exc.body()
    request_id = context.current().request_id
    if request_id:
        body["request_id"] = request_id
    raw = json.dumps(body, ensure_ascii=False).encode()
    try:
        return _signed(rt, exc.status, raw, nonce, PROBLEM_JSON, exc.headers)
    except service.NoExchangeKey:
        return Response(raw, status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise Invalid("invalid body", [{"loc": ["body"], "msg": "a JSON object", "type": "json_invalid"}])
    return value


def serve(rt: Runtime, name: str, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
    """Admit the signed request, run the service, log it on the ledger, answer signed; a refusal keeps nothing but the try."""
    nonce = secrets.token_urlsafe(24)
    member = "unknown"
    known = name if name in OFFERED else "unknown"  # a bounded label set
    try:
        with rt.db.unit_of_work(readonly=True) as session:
            caller = service.authenticate(session, method, path, headers, body, utcnow())
        nonce, member = caller.nonce, caller.identifier
        with rt.db.unit_of_work() as session:
            service.admit(session, caller)
        if name not in OFFERED:
            raise NotFound(f"this node offers no service {name!r}; it offers {', '.join(OFFERED)}")
        payload = _payload(body)
        purpose = service.check_call(caller, name, payload.get("purpose"))
        with rt.db.unit_of_work() as session:
            answer = OFFERED[name](session, caller, payload)
            record_id = new_id()
            out = json.dumps({**answer.body, "exchange_id": record_id}, ensure_ascii=False, separators=(",", ":")).encode()
            service.record(
                session,
                direction="in",
                member_id=caller.member_id,
                member_identifier=caller.identifier,
                state_code=answer.state_code,
                service=name,
                purpose=purpose,
                consent_id=answer.consent_id,
                citizen_id=answer.citizen_id,
                request_body=body,
                response_body=out,
                status=200,
                record_id=record_id,
            )
        EXCHANGES.labels(member, known, "ok").inc()
        return _signed(rt, 200, out, nonce, "application/json")
    except Problem as exc:
        EXCHANGES.labels(member, known, exc.type_slug).inc()
        return _problem(rt, exc, nonce)


@signed_router.post("/services/{name}", summary="Call a service as a member: an RFC 9421-signed request")
async def call_service(name: str, request: Request) -> Response:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await run_in_threadpool(serve, request.app.state.runtime, name, request.method, request.url.path, headers, body)


@signed_router.get("/keys", summary="This node's active exchange keys (Ed25519, base64url)")
def node_keys(session: DbSession) -> dict[str, Any]:
    return {
        "did": service.node_did(session),
        "keys": [{"key_id": k.key_id, "public_key": k.public_key} for k in service.own_keys(session)],
    }


# Administration -----------------------------------------------------------------------------


def _member_out(session: DbSession, member: Member) -> MemberOut:
    return MemberOut(
        identifier=member.identifier,
        name=member.name,
        did=member.did,
        state=member.state_code,
        base_url=member.base_url,
        services=member.services,
        purposes=member.purposes,
        status=member.status,
        requests_per_minute=member.requests_per_minute,
        keys=[
            KeyOut(key_id=k.key_id, public_key=k.public_key, status=k.status, created_at=k.created_at, retired_at=k.retired_at)
            for k in service.member_keys(session, member)
        ],
    )


@router.get("/members", response_model=list[MemberOut])
def list_members(session: DbSession, principal: CurrentPrincipal) -> list[MemberOut]:
    return [_member_out(session, m) for m in service.list_members(session, principal)]


@router.post("/members", response_model=MemberOut, status_code=201)
def register_member(body: MemberIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    member = service.register_member(
        session,
        principal,
        identifier=body.identifier,
        name=body.name,
        did=body.did,
        state_code=body.state,
        base_url=body.base_url,
        services=body.services,
        purposes=body.purposes,
        requests_per_minute=body.requests_per_minute,
        keys={k.key_id: k.public_key for k in body.keys},
    )
    return json_response(_member_out(session, member), 201)


def _identifier(instance: str, klass: str, member: str, subsystem: str) -> str:
    return f"{instance}/{klass}/{member}/{subsystem}"


@router.get("/members/{instance}/{klass}/{member}/{subsystem}", response_model=MemberOut)
def get_member(
    instance: str, klass: str, member: str, subsystem: str, session: DbSession, principal: CurrentPrincipal
) -> MemberOut:
    return _member_out(session, service.get_member(session, principal, _identifier(instance, klass, member, subsystem)))


@router.patch("/members/{instance}/{klass}/{member}/{subsystem}", response_model=MemberOut)
def update_member(
    instance: str, klass: str, member: str, subsystem: str, body: MemberPatch, session: DbSession, principal: CurrentPrincipal
) -> Response:
    row = service.update_member(
        session, principal, _identifier(instance, klass, member, subsystem), **body.model_dump(exclude_unset=True)
    )
    return json_response(_member_out(session, row))


@router.post("/members/{instance}/{klass}/{member}/{subsystem}/keys", response_model=MemberOut, status_code=201)
def add_key(
    instance: str, klass: str, member: str, subsystem: str, body: KeyIn, session: DbSession, principal: CurrentPrincipal
) -> Response:
    identifier = _identifier(instance, klass, member, subsystem)
    service.add_member_key(session, principal, identifier, body.key_id, body.public_key)
    return json_response(_member_out(session, service.get_member(session, principal, identifier)), 201)


@router.post("/members/{instance}/{klass}/{member}/{subsystem}/keys/retire", response_model=MemberOut)
def retire_key(
    instance: str, klass: str, member: str, subsystem: str, body: KeyIn, session: DbSession, principal: CurrentPrincipal
) -> Response:
    identifier = _identifier(instance, klass, member, subsystem)
    service.retire_member_key(session, principal, identifier, body.key_id)
    return json_response(_member_out(session, service.get_member(session, principal, identifier)))


# Citizens: consents, pulls, who looked at my data ---------------------------------------------


def _consent_out(consent: Consent, member: str) -> ConsentOut:
    return ConsentOut(
        id=consent.id,
        member=member,
        service=consent.service,
        resource=consent.resource,
        purpose=consent.purpose,
        created_at=consent.created_at,
        expires_at=consent.expires_at,
        withdrawn_at=consent.withdrawn_at,
    )


@router.post("/consents", response_model=ConsentOut, status_code=201)
def grant_consent(body: ConsentIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    consent = service.grant_consent(
        session,
        principal,
        member_identifier=body.member,
        service=body.service,
        resource=body.resource,
        purpose=body.purpose,
        days=body.days,
        owner_of=offered.owner_of,
    )
    return json_response(_consent_out(consent, body.member), 201)


@router.get("/consents", response_model=list[ConsentOut])
def my_consents(session: DbSession, principal: CurrentPrincipal) -> list[ConsentOut]:
    return [_consent_out(c, m) for c, m in service.my_consents(session, principal)]


@router.delete("/consents/{consent_id}", response_model=ConsentOut)
def withdraw_consent(consent_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    consent = service.withdraw_consent(session, principal, consent_id[:64])
    member = session.get(Member, consent.member_id)
    return json_response(_consent_out(consent, member.identifier if member else ""))


def _access_out(row: LogRecord) -> AccessOut:
    return AccessOut(
        id=row.id,
        direction=row.direction,
        member=row.member_identifier,
        service=row.service,
        purpose=row.purpose,
        consent=row.consent_id,
        status=row.status,
        at=row.created_at,
    )


@router.get("/access-log", response_model=list[AccessOut], summary="Who looked at my data: exchanges about me, served or made")
def access_log(session: DbSession, principal: CurrentPrincipal) -> list[AccessOut]:
    return [_access_out(r) for r in service.access_log(session, principal)]


@router.post("/pulls", response_model=PullOut)
def pull(body: PullIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """A citizen has this node fetch their record from another member, under the consent they gave there."""
    if principal.kind != "citizen":
        raise service.ConsentRefused("only a citizen pulls their own records")
    if body.service not in PULLABLE:
        raise Invalid(
            "invalid service", [{"loc": ["body", "service"], "msg": f"one of {', '.join(PULLABLE)}", "type": "value_error"}]
        )
    payload: dict[str, Any] = {"purpose": body.purpose, "number": body.number}
    if body.consent:
        payload["consent"] = body.consent
    reply = client.call(session, body.member, body.service, payload, citizen_id=principal.user_id)
    if reply.status >= 400:
        raise client.PeerFailed(
            f"{body.member} refused: {reply.body.get('detail', reply.status)}",
            extra={"peer_status": reply.status, "peer_type": reply.body.get("type")},
        )
    return json_response(PullOut(status=reply.status, exchange_id=reply.record.id if reply.record else None, answer=reply.body))


# DigiLocker issuer API ------------------------------------------------------------------------


def _digilocker(rt: Runtime, pull: Any, body: bytes, given: str | None) -> Response:
    digilocker.check_hmac(rt.settings, body, given)
    with rt.db.unit_of_work() as session:
        pulled = pull(session, body)
    key = rt.settings.digilocker_api_key.get_secret_value()
    return Response(
        pulled.xml, media_type="application/xml", headers={digilocker.HMAC_HEADER: digilocker.hmac_of(key, pulled.xml)}
    )


@digilocker_router.post("/pull-uri", summary="DigiLocker Pull URI: find a certificate by its holder's details")
async def pull_uri(request: Request) -> Response:
    body = await request.body()
    given = request.headers.get(digilocker.HMAC_HEADER)
    return await run_in_threadpool(_digilocker, request.app.state.runtime, digilocker.pull_uri, body, given)


@digilocker_router.post("/pull-doc", summary="DigiLocker Pull Doc: the document a URI names")
async def pull_doc(request: Request) -> Response:
    body = await request.body()
    given = request.headers.get(digilocker.HMAC_HEADER)
    return await run_in_threadpool(_digilocker, request.app.state.runtime, digilocker.pull_doc, body, given)


# Moving home ---------------------------------------------------------------------------------


def _transfer_out(session: DbSession, transfer: Transfer, records: list[dict[str, Any]] | None = None) -> TransferOut:
    member = session.get(Member, transfer.member_id)
    return TransferOut(
        id=transfer.id,
        direction=transfer.direction,
        member=member.identifier if member else "",
        to_body=transfer.to_body,
        status=transfer.status,
        reason=transfer.reason,
        record_count=transfer.record_count,
        created_at=transfer.created_at,
        decided_at=transfer.decided_at,
        records=records or [],
    )


@router.post(
    "/moves", response_model=TransferOut, status_code=201, summary="Move home: send my records to a body at another member"
)
def move_home(body: MoveIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    transfer = moves.request_move(session, principal, body.member, body.to_body)
    return json_response(_transfer_out(session, transfer), 201)


@router.get(
    "/transfers", response_model=list[TransferOut], summary="My transfers: sent, and received for me (records once accepted)"
)
def my_transfers(session: DbSession, principal: CurrentPrincipal) -> list[TransferOut]:
    return [_transfer_out(session, t, r) for t, r in moves.transfers_for(session, principal)]


@router.get("/local-bodies/{code}/transfers", response_model=list[TransferOut], summary="Transfers received for a body")
def received(code: str, session: DbSession, principal: CurrentPrincipal) -> list[TransferOut]:
    return [_transfer_out(session, t) for t in moves.received_at(session, principal, code[:96])]


@router.post("/transfers/{transfer_id}/decision", response_model=TransferOut, summary="Accept or refuse a received transfer")
def decide_transfer(transfer_id: str, body: DecisionIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    transfer = moves.decide(session, principal, transfer_id[:64], accept=body.accept, reason=body.reason)
    return json_response(_transfer_out(session, transfer))

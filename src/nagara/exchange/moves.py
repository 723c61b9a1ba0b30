"""Moving home: a citizen's records (certificates issued, properties owned with their tax history) go to another member.

The citizen asks at the sending node (``request_move``: their own request is the consent); the
sending node signs a ``move-home`` call carrying the records and the citizen's mobile number, and
the receiving node keeps them sealed as a transfer ``received`` for the receiving body. An officer
of that body accepts or refuses it with reasons (``decide``), and the receiving node tells the
sender with a signed ``move-home-decision`` through the outbox (retried while the sender is away).
Each call is an exchange logged on both nodes; once
accepted, the citizen with that mobile number sees the records in their portal there.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.certificates import service as certificates
from nagara.certificates.models import SUPERSEDED, Certificate
from nagara.exchange import client, service
from nagara.exchange.models import Member, Transfer
from nagara.exchange.offered import Answer
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.access import Principal, require
from nagara.kit.db import utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound
from nagara.kit.text import strip_bidi
from nagara.payments.models import Demand, Property
from nagara.runtime import runtime_of
from nagara.tenancy.models import LocalBody
from nagara.worker.registry import enqueue

DECIDE = "applications:application:act"  # an officer who acts on applications at the receiving body
PURPOSE = "move-home"
MAX_REASON = 1000


def records_of(session: Session, citizen_id: str) -> list[dict[str, Any]]:
    """What moves with the citizen: their certificates (with the signed credential) and their properties' tax history."""
    out: list[dict[str, Any]] = []
    certs = session.scalars(
        select(Certificate)
        .join(Application, Application.id == Certificate.application_id)
        .where(Application.applicant_id == citizen_id, Certificate.status != SUPERSEDED)
        .order_by(Certificate.issued_at)
    )
    for cert in certs:
        out.append(
            {
                "kind": "certificate",
                "number": cert.number,
                "output_type": cert.output_type,
                "status": cert.status,
                "issued_by": cert.local_body_code,
                "issued_at": cert.issued_at.isoformat(),
                "credential": certificates.credential_of(session, cert),
            }
        )
    for prop in session.scalars(select(Property).where(Property.owner_id == citizen_id).order_by(Property.assessment_number)):
        demands = session.scalars(select(Demand).where(Demand.property_id == prop.id).order_by(Demand.period))
        out.append(
            {
                "kind": "property",
                "assessment_number": prop.assessment_number,
                "local_body": prop.local_body_code,
                "usage": prop.usage,
                "plinth_area_sqm": prop.plinth_area_sqm,
                "owned_since": prop.created_at.date().isoformat(),
                "tax": [
                    {
                        "period": d.period,
                        "amount": d.amount,
                        "status": d.status,
                        "paid_at": d.paid_at.isoformat() if d.paid_at else None,
                    }
                    for d in demands
                ],
            }
        )
    return out


def request_move(session: Session, principal: Principal, member_identifier: str, to_body: str) -> Transfer:
    """The citizen asks for their records to be sent to ``to_body`` at the member; sent now, signed."""
    if principal.kind != "citizen":
        raise Forbidden("only the citizen whose records they are asks to move them")
    user = session.get(User, principal.user_id)
    if user is None or not user.mobile_sealed:
        raise Forbidden("your account has no mobile number to find you by at the other body")
    mobile = runtime_of(session).cipher.decrypt(user.mobile_sealed, context="mobile")
    records = records_of(session, principal.user_id)
    if not records:
        raise Conflict("you have no certificates or properties here to move")
    transfer = Transfer(
        direction="out",
        member_id="",
        to_body=to_body,
        status="sent",
        citizen_id=principal.user_id,
        record_count=len(records),
        state_code=user.state_code or "",
    )
    member = session.scalar(select(Member).where(Member.identifier == member_identifier))
    if member is None:
        raise Invalid(
            "unknown member", [{"loc": ["body", "member"], "msg": f"no member {member_identifier} here", "type": "value_error"}]
        )
    transfer.member_id = member.id
    session.add(transfer)
    session.flush()
    payload = {
        "purpose": PURPOSE,
        "consent": transfer.id,
        "transfer": transfer.id,
        "to_body": to_body,
        "mobile": mobile,
        "records": records,
    }
    reply = client.call(session, member_identifier, "move-home", payload, citizen_id=principal.user_id)
    if reply.status >= 400:
        raise client.PeerFailed(
            f"{member_identifier} refused the transfer: {reply.body.get('detail', reply.status)}",
            extra={"peer_status": reply.status, "peer_type": reply.body.get("type")},
        )
    transfer.peer_transfer_id = str(reply.body.get("transfer", ""))[:36] or None
    session.flush()
    return transfer


def receive(session: Session, caller: service.Caller, body: dict[str, Any]) -> Answer:
    """The ``move-home`` service: keep the records for the receiving body to decide on."""
    to_body = body.get("to_body")
    body_row = session.get(LocalBody, to_body) if isinstance(to_body, str) and len(to_body) <= 96 else None
    if body_row is None:
        raise Invalid("unknown body", [{"loc": ["body", "to_body"], "msg": "a local body of this node", "type": "value_error"}])
    records, mobile = body.get("records"), body.get("mobile")
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise Invalid("no records", [{"loc": ["body", "records"], "msg": "a non-empty list of records", "type": "value_error"}])
    try:
        number = identity.normalise_mobile(str(mobile))
    except Exception:  # noqa: BLE001 - any malformed number is the caller's error
        raise Invalid(
            "invalid mobile", [{"loc": ["body", "mobile"], "msg": "an Indian mobile number", "type": "value_error"}]
        ) from None
    rt = runtime_of(session)
    index = identity.mobile_index(rt, body_row.state_code, number)
    citizen = session.scalar(select(User.id).where(User.mobile_index == index))
    peer = body.get("transfer")
    transfer = Transfer(
        direction="in",
        member_id=caller.member_id,
        peer_transfer_id=peer if isinstance(peer, str) and len(peer) <= 36 else None,
        citizen_id=citizen,
        mobile_index=index,
        to_body=body_row.code,
        status="received",
        record_count=len(records),
        state_code=body_row.state_code,
    )
    session.add(transfer)
    session.flush()
    transfer.records_sealed = rt.cipher.encrypt(json.dumps(records, ensure_ascii=False), context=f"transfer:{transfer.id}")
    session.flush()
    return Answer(
        {"transfer": transfer.id, "status": "received"},
        body_row.state_code,
        citizen_id=citizen,
        consent_id=transfer.peer_transfer_id,
    )


def decide(session: Session, principal: Principal, transfer_id: str, *, accept: bool, reason: str) -> Transfer:
    """An officer of the receiving body accepts or refuses, with reasons; the sending node is told (signed)."""
    transfer = session.get(Transfer, transfer_id, with_for_update=True)
    if transfer is None or transfer.direction != "in":
        raise NotFound(f"no transfer {transfer_id} was received here")
    body = session.get(LocalBody, transfer.to_body)
    if body is None:
        raise NotFound(f"no transfer {transfer_id} was received here")
    require(principal, DECIDE, state_code=body.state_code, local_body_code=body.code)
    if transfer.status != "received":
        raise Conflict(f"transfer {transfer_id} was already {transfer.status}")
    reason = strip_bidi(reason).strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(
            "invalid reason", [{"loc": ["body", "reason"], "msg": f"1 to {MAX_REASON} characters", "type": "value_error"}]
        )
    status = "accepted" if accept else "refused"
    enqueue(session, "exchange.tell_decision", {"transfer": transfer.id})  # after commit, retried until the sender has it
    transfer.status, transfer.reason, transfer.decided_at = status, reason, utcnow()
    session.flush()
    return transfer


def tell_decision(session: Session, transfer_id: str) -> None:
    """Send the sending node the decision on a transfer it sent us (a signed ``move-home-decision``)."""
    transfer = session.get(Transfer, transfer_id)
    member = session.get(Member, transfer.member_id) if transfer else None
    if transfer is None or member is None or transfer.status not in ("accepted", "refused"):
        return
    payload = {
        "purpose": PURPOSE,
        "consent": transfer.peer_transfer_id,
        "transfer": transfer.peer_transfer_id,
        "status": transfer.status,
        "reason": transfer.reason,
    }
    reply = client.call(session, member.identifier, "move-home-decision", payload, citizen_id=transfer.citizen_id)
    if reply.status == 409:
        return
    if reply.status >= 400:
        raise client.PeerFailed(f"{member.identifier} did not take the decision: {reply.body.get('detail', reply.status)}")


def hear_decision(session: Session, caller: service.Caller, body: dict[str, Any]) -> Answer:
    """The ``move-home-decision`` service: the receiving node says what its body decided about our transfer."""
    transfer_id, status, reason = body.get("transfer"), body.get("status"), body.get("reason")
    transfer = (
        session.get(Transfer, transfer_id, with_for_update=True)
        if isinstance(transfer_id, str) and len(transfer_id) <= 36
        else None
    )
    if transfer is None or transfer.direction != "out" or transfer.member_id != caller.member_id:
        raise service.ConsentRefused(f"no transfer {transfer_id} was sent to {caller.identifier}")
    if status not in ("accepted", "refused") or not isinstance(reason, str) or not 0 < len(reason) <= MAX_REASON:
        raise Invalid(
            "invalid decision", [{"loc": ["body", "status"], "msg": "accepted or refused, with a reason", "type": "value_error"}]
        )
    if transfer.status != "sent":
        raise Conflict(f"transfer {transfer_id} was already {transfer.status}")
    transfer.status, transfer.reason, transfer.decided_at = status, strip_bidi(reason), utcnow()
    session.flush()
    return Answer(
        {"transfer": transfer.id, "status": status}, transfer.state_code, citizen_id=transfer.citizen_id, consent_id=transfer.id
    )


def transfers_for(session: Session, principal: Principal) -> list[tuple[Transfer, list[dict[str, Any]]]]:
    """The signed-in citizen's transfers: those they sent, and those received for them (records once accepted)."""
    rt = runtime_of(session)
    user = session.get(User, principal.user_id)
    mine = [principal.user_id]
    query = select(Transfer).where(Transfer.citizen_id.in_(mine))
    if user is not None and user.mobile_index:
        query = select(Transfer).where((Transfer.citizen_id == principal.user_id) | (Transfer.mobile_index == user.mobile_index))
    out = []
    for transfer in session.scalars(query.order_by(Transfer.created_at.desc())):
        records: list[dict[str, Any]] = []
        if transfer.direction == "in" and transfer.status == "accepted" and transfer.records_sealed:
            records = json.loads(rt.cipher.decrypt(transfer.records_sealed, context=f"transfer:{transfer.id}"))
        out.append((transfer, records))
    return out


def received_at(session: Session, principal: Principal, local_body: str) -> list[Transfer]:
    """Transfers waiting at a body, for its officers."""
    body = session.get(LocalBody, local_body)
    if body is None:
        raise NotFound(f"no local body {local_body}")
    require(principal, DECIDE, state_code=body.state_code, local_body_code=body.code)
    return list(
        session.scalars(
            select(Transfer).where(Transfer.direction == "in", Transfer.to_body == body.code).order_by(Transfer.created_at.desc())
        )
    )

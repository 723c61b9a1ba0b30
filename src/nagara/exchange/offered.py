"""The services this node offers other members, each ``(session, caller, body) -> Answer``.

Bodies are JSON objects: ``purpose`` (one of the member's), ``consent`` (the citizen's consent
reference, for the services in ``service.CONSENTED``) and the service's own fields. Answers carry
no personal data unless a consent covers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.certificates import service as certificates
from nagara.certificates.models import ACTIVE as CERT_ACTIVE
from nagara.exchange import service
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid
from nagara.payments.models import Demand, Property


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    state_code: str
    citizen_id: str | None = None
    consent_id: str | None = None


def _text(body: dict[str, Any], name: str, max_length: int = 64) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise Invalid(
            f"invalid {name}", [{"loc": ["body", name], "msg": f"a text of 1 to {max_length} characters", "type": "value_error"}]
        )
    return value.strip()


def certificate_verify(session: Session, caller: service.Caller, body: dict[str, Any]) -> Answer:
    """Yes or no and the status of a certificate by its number: no personal data."""
    number = _text(body, "number").upper()
    cert = certificates.by_number(session, number)
    if cert is None:
        return Answer({"number": number, "known": False}, caller.state_code)
    now = utcnow()
    valid = cert.status == CERT_ACTIVE and cert.valid_from <= now and (cert.valid_until is None or now < cert.valid_until)
    return Answer(
        {
            "number": cert.number,
            "known": True,
            "valid": valid,
            "status": cert.status,
            "edition": cert.edition,
            "output_type": cert.output_type,
            "issued_at": cert.issued_at.isoformat(),
            "valid_until": cert.valid_until.isoformat() if cert.valid_until else None,
            "issuer": cert.local_body_code,
        },
        cert.state_code,
    )


def certificate_owner(session: Session, number: str) -> tuple[str, str] | None:
    """(citizen id, state code) of the certificate numbered ``number``: the applicant of its application."""
    cert = certificates.by_number(session, number)
    if cert is None:
        return None
    applicant = session.scalar(select(Application.applicant_id).where(Application.id == cert.application_id))
    return (applicant, cert.state_code) if applicant else None


def certificate_credential(session: Session, caller: service.Caller, body: dict[str, Any]) -> Answer:
    """The certificate's verifiable credential, under the citizen's consent to this member for this purpose."""
    number = _text(body, "number").upper()
    member = service.caller_member(session, caller)
    consent = service.check_consent(session, member, body.get("consent"), "certificate-credential", number, str(body["purpose"]))
    cert = certificates.by_number(session, number)
    owner = certificate_owner(session, number)
    if cert is None or owner is None or owner[0] != consent.citizen_id:
        raise service.ConsentRefused(f"consent {consent.id} does not cover a certificate numbered {number}")
    return Answer(
        {"number": cert.number, "status": cert.status, "credential": certificates.credential_of(session, cert)},
        cert.state_code,
        citizen_id=consent.citizen_id,
        consent_id=consent.id,
    )


def application_status(session: Session, caller: service.Caller, body: dict[str, Any]) -> Answer:
    """Where an application stands, for a department that must act on it: service, state and dates."""
    number = _text(body, "number").upper()
    app = session.scalar(select(Application).where(Application.number == number))
    if app is None:
        return Answer({"number": number, "known": False}, caller.state_code)
    return Answer(
        {
            "number": app.number,
            "known": True,
            "service": app.service_code,
            "local_body": app.local_body_code,
            "state": app.state,
            "open": app.is_open,
            "outcome": app.outcome,
            "submitted_at": app.submitted_at.isoformat() if app.submitted_at else None,
            "due_at": app.service_due_at.isoformat() if app.service_due_at else None,
            "decided_at": app.decided_at.isoformat() if app.decided_at else None,
        },
        app.state_code,
    )


def _property(session: Session, resource: str) -> Property | None:
    body, _, assessment = resource.strip().partition("/")
    return session.scalar(select(Property).where(Property.local_body_code == body, Property.assessment_number == assessment))


def property_tax_clearance(session: Session, caller: service.Caller, body: dict[str, Any]) -> Answer:
    """Whether a citizen's property owes no property tax (for a building permit elsewhere), under their consent."""
    resource = f"{_text(body, 'local_body', 96)}/{_text(body, 'assessment_number')}"
    member = service.caller_member(session, caller)
    consent = service.check_consent(
        session, member, body.get("consent"), "property-tax-clearance", resource, str(body["purpose"])
    )
    prop = _property(session, resource)
    if prop is None or prop.owner_id != consent.citizen_id:
        raise service.ConsentRefused(f"consent {consent.id} does not cover a property {resource}")
    due = list(session.scalars(select(Demand).where(Demand.property_id == prop.id, Demand.status == "due")))
    owed = sum(max(d.amount - d.paid_amount, 0) for d in due)
    return Answer(
        {
            "local_body": prop.local_body_code,
            "assessment_number": prop.assessment_number,
            "cleared": not due,
            "dues_paise": owed,
            "periods_due": sorted(d.period or "" for d in due),
            "as_of": utcnow().isoformat(),
        },
        prop.state_code,
        citizen_id=consent.citizen_id,
        consent_id=consent.id,
    )


OFFERED: dict[str, Callable[[Session, service.Caller, dict[str, Any]], Answer]] = {
    "certificate-verify": certificate_verify,
    "certificate-credential": certificate_credential,
    "application-status": application_status,
    "property-tax-clearance": property_tax_clearance,
}


def owner_of(session: Session, service_name: str, resource: str) -> tuple[str, str] | None:
    """Whose record a consent would cover (for ``service.grant_consent``)."""
    if service_name == "certificate-credential":
        return certificate_owner(session, resource.strip().upper())
    if service_name == "property-tax-clearance":
        prop = _property(session, resource)
        return (prop.owner_id, prop.state_code) if prop is not None and prop.owner_id else None
    return None

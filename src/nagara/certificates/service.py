"""Certificate operations: issue on approval, read, reissue, revoke, suspend, reinstate, renew; status lists.

Issue happens inside the unit of work that approves the application (the workflow
engine calls :func:`issue_on_approval`): the registration number, the signed W3C
Verifiable Credential, its status list entries, the ledger entry and the audit
event commit together or not at all. Every later change of a certificate's life
(a corrected reissue, a revocation with its reason, a suspension, a renewal) is
likewise one transaction with its ledger entry and audit event, and flips the bit
in the signed Bitstring Status List that verifiers read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nagara.applications.data import seal_data, unseal_data
from nagara.applications.models import Application
from nagara.applications.service import get as get_application
from nagara.applications.service import service_for
from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.catalog.forms import form_errors
from nagara.certificates import compact, dataintegrity, ld, render, statuslist, templates
from nagara.certificates.issuer import Issuer, issuer_for
from nagara.certificates.models import ACTIVE, REVOKED, SUPERSEDED, SUSPENDED, Certificate, StatusList
from nagara.certificates.render import local_date
from nagara.kit import numbers
from nagara.kit.access import Principal, require
from nagara.kit.db import insert_ignoring_conflict, new_id, utcnow
from nagara.kit.errors import Conflict, Invalid, NotFound
from nagara.ledger import service as ledger
from nagara.runtime import runtime_of
from nagara.tenancy.context import BodyPlace, body_place
from nagara.web.i18n import N_, translations

MANAGE = "certificates:certificate:manage"
RENEWAL_FIELD = "licence_number"  # a renewal service's form names the licence it renews in this field


def _issuer(session: Session) -> Issuer:
    return issuer_for(runtime_of(session).settings)


def _seal(session: Session, cert_id: str, value: dict[str, Any]) -> str:
    return runtime_of(session).cipher.encrypt(json.dumps(value, ensure_ascii=False), context=f"certificate:{cert_id}")


def credential_of(session: Session, cert: Certificate) -> dict[str, Any]:
    sealed: dict[str, Any] = json.loads(
        runtime_of(session).cipher.decrypt(cert.credential_sealed, context=f"certificate:{cert.id}")
    )
    return sealed


def credential_sha256(credential: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(credential)).hexdigest()


# --- what a certificate shows -------------------------------------------------------------


def _display(value: Any, options: dict[str, Any] | None, languages: list[str]) -> tuple[str, dict[str, str] | None]:
    if isinstance(value, bool):
        word = N_("Yes") if value else N_("No")
        return ("yes" if value else "no"), {lang: translations(lang).gettext(word) for lang in languages}
    if options and isinstance(value, str) and value in options:
        return value, dict(options[value])
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value, None
    return str(value), None


def build_record(
    template: templates.Template, service: Service, data: dict[str, Any], languages: list[str]
) -> list[dict[str, Any]]:
    """The fields the certificate prints, labelled in the state's language and English."""
    ui = (service.definition.get("form", {}).get("ui") or {}).get("fields", {})
    record = []
    for item in template.definition["fields"]:
        code = item["field"]
        if code not in data or data[code] in (None, ""):
            continue
        hints = ui.get(code, {})
        label = item.get("label") or hints.get("label") or {"en": code.replace("_", " ").capitalize()}
        value, display = _display(data[code], hints.get("options"), languages)
        entry: dict[str, Any] = {"type": "RecordField", "code": code, "label": {k: label[k] for k in label if k in languages}}
        entry["value"] = value
        if display:
            entry["display"] = {k: display[k] for k in display if k in languages}
        record.append(entry)
    return record


def _names(value: Mapping[str, str], languages: list[str]) -> dict[str, str]:
    return {k: v for k, v in value.items() if k in languages}


# --- status lists ---------------------------------------------------------------------------


def _sign_status_list(issuer: Issuer, row: StatusList, now: datetime) -> str:
    unsigned = statuslist.unsigned_credential(issuer.status_list_url(row.list_id), issuer.did, row.purpose, row.bits, now)
    return json.dumps(dataintegrity.sign(unsigned, issuer.key, issuer.verification_method, created=now))


def _allocate_status(session: Session, issuer: Issuer, now: datetime) -> tuple[int, int]:
    n = numbers.take_outside(session, "certificate-status") - 1  # a position, not a register: a gap is harmless
    number, index = n // statuslist.LIST_SIZE + 1, n % statuslist.LIST_SIZE
    for purpose in statuslist.PURPOSES:
        if session.get(StatusList, (number, purpose)) is None:
            row = StatusList(number=number, purpose=purpose, bits=statuslist.empty(), version=1)
            row.credential = _sign_status_list(issuer, row, now)
            insert_ignoring_conflict(
                session,
                StatusList.__table__,
                {
                    "number": number,
                    "purpose": purpose,
                    "bits": row.bits,
                    "credential": row.credential,
                    "version": 1,
                    "updated_at": now,
                },
            )
    return number, index


def _set_status(session: Session, cert: Certificate, purpose: str, value: bool, now: datetime) -> None:
    row = session.scalar(
        select(StatusList).where(StatusList.number == cert.status_list, StatusList.purpose == purpose).with_for_update()
    )
    if row is None:
        raise NotFound(f"status list {purpose}-{cert.status_list} is missing")
    row.bits = statuslist.set_bit(row.bits, cert.status_index, value)
    row.credential = _sign_status_list(_issuer(session), row, now)


def status_list_credential(session: Session, list_id: str) -> dict[str, Any]:
    purpose, _, number = list_id.partition("-")
    row = session.get(StatusList, (int(number), purpose)) if number.isdigit() and purpose in statuslist.PURPOSES else None
    if row is None:
        raise NotFound(f"no status list {list_id!r}; lists are named revocation-N or suspension-N")
    value: dict[str, Any] = json.loads(row.credential)
    return value


# --- issue ---------------------------------------------------------------------------------


def _status_entries(issuer: Issuer, number: int, index: int) -> list[dict[str, str]]:
    out = []
    for purpose in statuslist.PURPOSES:
        url = issuer.status_list_url(f"{purpose}-{number}")
        out.append(
            {
                "id": f"{url}#{index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": url,
            }
        )
    return out


def document_for(
    cert: Certificate, credential: dict[str, Any], place: BodyPlace, template_lang: str, issuer: Issuer
) -> dict[str, Any]:
    """Everything the PDF layout prints, from the credential (so the PDF shows what is signed, nothing more)."""
    subject = credential["credentialSubject"]
    zone = place.state.timezone

    record = []
    for field in subject.get("record", []):
        text = field["value"]
        if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
            text = f"{text[8:10]}-{text[5:7]}-{text[:4]}"
        record.append({**field, "text": text})
    return {
        "lang": template_lang,
        "number": cert.number,
        "edition": cert.edition,
        "output_type": cert.output_type,
        "title": subject["title"],
        "statement": subject["statement"],
        "number_label": subject.get("numberLabel") or {"en": "Registration number"},
        "legal_basis": subject.get("legalBasis"),
        "note": subject.get("note"),
        "record": record,
        "signatory": subject["signatory"],
        "seal": subject.get("seal") or {"en": "Seal"},
        "body_name": subject["localName"],
        "state_name": dict(place.state.name),
        "issued_on": local_date(cert.issued_at, zone),
        "valid_until": local_date(cert.valid_until, zone),
        "application_number": cert.application_number,
        "credential_id": cert.credential_id,
        "issuer": issuer.did,
        "verify_url": issuer.verify_url,
    }


def compact_form(cert: Certificate, credential: dict[str, Any], issuer: Issuer) -> str:
    """The signed compact form for the QR code (see compact.py)."""
    subject = credential["credentialSubject"]
    payload: dict[str, Any] = {
        "v": 1,
        "jti": cert.id,
        "iss": issuer.did,
        "n": cert.number,
        "ed": cert.edition,
        "t": cert.output_type,
        "lb": cert.local_body_code,
        "nbf": int(cert.valid_from.timestamp()),
        "exp": int(cert.valid_until.timestamp()) if cert.valid_until else None,
        "f": [[f["code"], f["value"]] for f in subject.get("record", [])[:3]],
        "h": compact.short_hash(cert.credential_sha256),
        "st": [cert.status_list, cert.status_index],
    }
    return compact.sign(payload, issuer.key, "#" + issuer.public_multikey)


def _sign_credential(
    session: Session,
    cert: Certificate,
    *,
    template: templates.Template,
    record: list[dict[str, Any]],
    place: BodyPlace,
    supersedes: str | None,
    now: datetime,
) -> dict[str, Any]:
    issuer = _issuer(session)
    languages = list(place.state.languages)
    subject: dict[str, Any] = {
        "type": "CertifiedRecord",
        "certificateType": cert.output_type,
        "registrationNumber": cert.number,
        "edition": cert.edition,
        "applicationNumber": cert.application_number,
        "serviceCode": cert.service_code,
        "localBodyCode": cert.local_body_code,
        "localName": _names(place.body.name, languages),
        "title": _names(template.definition["title"], languages),
        "statement": _names(template.definition["statement"], languages),
        "signatory": _names(template.definition["signatory"], languages),
        "record": record,
    }
    if place.body.lgd_code:
        subject["lgdCode"] = str(place.body.lgd_code)
    for key, term in (("number_label", "numberLabel"), ("legal_basis", "legalBasis"), ("seal", "seal"), ("note", "note")):
        if template.text(key):
            subject[term] = _names(template.definition[key], languages)
    if supersedes:
        subject["supersedes"] = supersedes
    credential: dict[str, Any] = {
        "@context": [ld.VC_V2, ld.NAGARA_V1],
        "id": cert.credential_id,
        "type": ["VerifiableCredential", "NagaraCertificate"],
        "issuer": {"id": issuer.did, "name": place.state.name.get("en", place.state.code)},
        "name": f"{template.definition['title']['en']} {cert.number}",
        "validFrom": dataintegrity.xsd_datetime(cert.valid_from),
        "credentialSubject": subject,
        "credentialStatus": _status_entries(issuer, cert.status_list, cert.status_index),
    }
    if cert.valid_until is not None:
        credential["validUntil"] = dataintegrity.xsd_datetime(cert.valid_until)
    signed = dataintegrity.sign(credential, issuer.key, issuer.verification_method, created=now)
    cert.verification_method = issuer.verification_method
    cert.credential_sha256 = credential_sha256(signed)
    cert.credential_sealed = _seal(session, cert.id, signed)
    return signed


def _ledger(session: Session, cert: Certificate, event: str, actor_role: str | None, **extra: Any) -> None:
    cert.ledger_pending_id = ledger.append(
        session,
        type=f"certificate.{event}",
        tenant_code=cert.local_body_code,
        subject=cert.number,
        content=ledger_content(cert, event, **extra),
        actor_role=actor_role,
    )


def ledger_content(cert: Certificate, event: str, **extra: Any) -> dict[str, Any]:
    """What a certificate's ledger entry commits to (salted and hashed in the entry; see ledger/entry.py)."""
    return {"event": event, "credential": cert.credential_id, "edition": cert.edition, "sha256": cert.credential_sha256, **extra}


def _validity(output: dict[str, Any], start: datetime) -> datetime | None:
    days = output.get("validity_days")
    return start + timedelta(days=int(days)) if days else None


def _template(session: Session, service: Service, output_type: str) -> templates.Template:
    """The template stored with the service version the application was made under; never read from disk."""
    try:
        definition, _layout = catalog.certificate_template(session, service.version_id)
    except LookupError as exc:
        raise Conflict(f"no certificate can be issued: {exc}") from None
    if definition["type"] != output_type:
        raise Conflict(
            f"no certificate can be issued: service {service.code!r} stores the template of {definition['type']!r}, "
            f"not of {output_type!r}"
        )
    return templates.Template(f"{service.state_code} pack, certificates/{output_type}.yaml", definition)


def _new_number(session: Session, place: BodyPlace, template: templates.Template, now: datetime) -> str:
    return numbers.next_number(session, place.body.code, template.number_prefix, now.year)


def _current_for(session: Session, application_id: str) -> Certificate | None:
    return session.scalar(
        select(Certificate)
        .where(Certificate.application_id == application_id, Certificate.status != SUPERSEDED)
        .order_by(Certificate.edition.desc())
        .limit(1)
    )


def issue_on_approval(
    session: Session,
    service: Service,
    app: Application,
    now: datetime,
    *,
    provenance: list[dict[str, Any]] | None = None,
    legacy: tuple[str, datetime, datetime | None] | None = None,
) -> Certificate | None:
    """Issue the service's output for an application that has just been approved (called by the workflow engine).

    ``provenance``: record fields signed after the template's (a record migrated from a legacy
    register says so, and from which register and number: ``migration.records``).
    ``legacy``: ``(number, valid_from, valid_until)`` of a licence or certificate a legacy register
    issued, kept as it was (a migrated trade licence keeps its number and its validity, so it is
    renewed like one issued here).
    """

    output = service.definition.get("output")
    if not output or app.outcome != "approved":
        return None
    data = unseal_data(app)
    existing = _current_for(session, app.id)
    if existing is not None:
        return existing  # approved once already (an appeal path ending in approval again): one certificate per case
    place = body_place(session, app.local_body_code)
    template = _template(session, service, output["type"])
    record = build_record(template, service, data, list(place.state.languages)) + list(provenance or [])
    actor = service.workflow.get("designated_officer")
    renews = _renewed_licence(session, service, app, output, data)
    if renews is not None:
        return _renew(session, renews, app, template, record, place, output, now, actor)
    issuer = _issuer(session)
    status_number, status_index = _allocate_status(session, issuer, now)
    cert = Certificate(
        id=new_id(),
        number=legacy[0] if legacy else _new_number(session, place, template, now),
        edition=1,
        output_type=output["type"],
        application_id=app.id,
        application_number=app.number,
        state_code=app.state_code,
        local_body_code=app.local_body_code,
        service_code=app.service_code,
        status=ACTIVE,
        issued_at=now,
        valid_from=legacy[1] if legacy else now,
        valid_until=legacy[2] if legacy else _validity(output, now),
        status_list=status_number,
        status_index=status_index,
    )
    _sign_credential(session, cert, template=template, record=record, place=place, supersedes=None, now=now)
    session.add(cert)
    _ledger(session, cert, "issued", actor)
    session.flush()
    return cert


def _renewed_licence(
    session: Session, service: Service, app: Application, output: dict[str, Any], data: dict[str, Any]
) -> Certificate | None:
    """For a renewal service (its output's renewal names itself), the licence its form names, if we issued it."""
    renewal = output.get("renewal") or {}
    if renewal.get("service") != service.code or not data.get(RENEWAL_FIELD):
        return None
    return session.scalar(
        select(Certificate)
        .where(
            Certificate.number == str(data[RENEWAL_FIELD]).strip().upper(),
            Certificate.local_body_code == app.local_body_code,
            Certificate.output_type == output["type"],
            Certificate.status.in_((ACTIVE, SUSPENDED)),
        )
        .order_by(Certificate.edition.desc())
        .limit(1)
    )


def _next_edition(session: Session, number: str) -> int:
    return int(session.scalar(select(func.max(Certificate.edition)).where(Certificate.number == number)) or 0) + 1


def _successor(
    session: Session, old: Certificate, app: Application | None, now: datetime, valid_from: datetime, valid_until: datetime | None
) -> Certificate:
    issuer = _issuer(session)
    status_number, status_index = _allocate_status(session, issuer, now)
    return Certificate(
        id=new_id(),
        number=old.number,
        edition=_next_edition(session, old.number),
        output_type=old.output_type,
        application_id=app.id if app else old.application_id,
        application_number=app.number if app else old.application_number,
        state_code=old.state_code,
        local_body_code=old.local_body_code,
        service_code=app.service_code if app else old.service_code,
        status=ACTIVE,
        issued_at=now,
        valid_from=valid_from,
        valid_until=valid_until,
        status_list=status_number,
        status_index=status_index,
    )


def _renew(
    session: Session,
    old: Certificate,
    app: Application,
    template: templates.Template,
    record: list[dict[str, Any]],
    place: BodyPlace,
    output: dict[str, Any],
    now: datetime,
    actor: str | None,
) -> Certificate:
    """A renewed licence: the same number, a new edition valid from the end of the old one (or now, if it lapsed)."""
    start = max(now, old.valid_until) if old.valid_until else now
    previous = {f["code"]: f for f in credential_of(session, old)["credentialSubject"].get("record", [])}
    for field in record:
        previous[field["code"]] = field
    merged = [previous[code] for code in previous if code != RENEWAL_FIELD]
    new = _successor(session, old, app, now, start, _validity(output, start))
    _sign_credential(session, new, template=template, record=merged, place=place, supersedes=old.credential_id, now=now)
    session.add(new)
    old.status = SUPERSEDED
    old.status_changed_at = now
    old.status_reason = f"renewed by application {app.number}"
    old.superseded_by_id = new.id
    _ledger(session, new, "renewed", actor, supersedes=old.credential_id)
    session.flush()
    return new


# --- read ----------------------------------------------------------------------------------


def for_application(session: Session, principal: Principal, number: str) -> tuple[Application, list[Certificate]]:
    """The application (if the caller may see it) and its certificates, newest edition first."""

    app = get_application(session, principal, number)
    certs = list(
        session.scalars(select(Certificate).where(Certificate.application_id == app.id).order_by(Certificate.edition.desc()))
    )
    renewed = list(
        session.scalars(
            select(Certificate).where(Certificate.number.in_({c.number for c in certs}), Certificate.application_id != app.id)
        )
    )
    certs = sorted({c.id: c for c in certs + renewed}.values(), key=lambda c: c.edition, reverse=True)
    if not certs:
        raise NotFound(
            f"application {number!r} has no certificate" + ("" if app.outcome == "approved" else " (it is not approved)")
        )
    return app, certs


def current(certs: list[Certificate]) -> Certificate:
    return next((c for c in certs if c.status != SUPERSEDED), certs[0])


def by_number(session: Session, number: str) -> Certificate | None:
    """The newest edition of a registration number (public: verification by number)."""
    return session.scalar(
        select(Certificate).where(Certificate.number == number.strip().upper()).order_by(Certificate.edition.desc()).limit(1)
    )


def by_credential(session: Session, credential_id: str) -> Certificate | None:
    if not credential_id.startswith("urn:uuid:"):
        return None
    return session.get(Certificate, credential_id.removeprefix("urn:uuid:"))


def pdf(session: Session, cert: Certificate) -> bytes:
    """The certificate's PDF, rendered once and kept in the file store (it is the same every time)."""
    files = runtime_of(session).files
    key = f"certificates/{cert.local_body_code}/{cert.id}.pdf"
    try:
        return files.get(key)
    except FileNotFoundError:
        pass
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("NoSuchKey", "404"):  # S3: not stored yet
            raise
    content = render_pdf(session, cert)
    files.put(key, content)
    return content


def _layout(session: Session, cert: Certificate) -> str | None:
    """The pack's ``certificates/layout.html`` as loaded with the application's service version, or None."""
    app = session.get(Application, cert.application_id)
    if app is None:
        raise NotFound(f"certificate {cert.number} names an application that is missing")
    try:
        return catalog.certificate_template(session, app.service_version_id)[1]
    except LookupError as exc:
        raise Conflict(f"certificate {cert.number} cannot be printed: {exc}") from None


def render_pdf(session: Session, cert: Certificate) -> bytes:

    issuer = _issuer(session)
    credential = credential_of(session, cert)
    place = body_place(session, cert.local_body_code)
    lang = next((x for x in place.state.languages if x != "en"), "en")
    document = document_for(cert, credential, place, lang, issuer)
    qr = render.qr_content(issuer.verify_url, compact_form(cert, credential, issuer))
    layout = _layout(session, cert)
    return render.render_pdf(document, credential, qr, layout=layout)


# --- lifecycle -----------------------------------------------------------------------------


def _managed(session: Session, principal: Principal, number: str) -> tuple[Application, Certificate]:
    app, certs = for_application(session, principal, number)
    cert = current(certs)
    require(principal, MANAGE, state_code=cert.state_code, local_body_code=cert.local_body_code)
    return app, cert


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < 5:
        raise Invalid(
            "a reason is required",
            [{"loc": ["body", "reason"], "msg": "say why, in at least 5 characters; it is recorded", "type": "missing"}],
        )
    return text[:500]


def _acting_role(principal: Principal, cert: Certificate) -> str | None:
    for grant in principal.grants:
        if MANAGE in grant.permissions and grant.covers(cert.state_code, cert.local_body_code, None):
            return grant.role
    return None


def revoke(session: Session, principal: Principal, number: str, reason: str | None) -> Certificate:
    _app, cert = _managed(session, principal, number)
    text = _reason(reason)
    if cert.status == REVOKED:
        raise Conflict(f"certificate {cert.number} is already revoked")
    now = utcnow()
    _set_status(session, cert, "revocation", True, now)
    if cert.status == SUSPENDED:
        _set_status(session, cert, "suspension", False, now)
    cert.status, cert.status_reason, cert.status_changed_at = REVOKED, text, now
    _ledger(session, cert, "revoked", _acting_role(principal, cert))
    session.flush()
    return cert


def suspend(session: Session, principal: Principal, number: str, reason: str | None) -> Certificate:
    _app, cert = _managed(session, principal, number)
    text = _reason(reason)
    if cert.status != ACTIVE:
        raise Conflict(f"only an active certificate can be suspended; {cert.number} is {cert.status}")
    now = utcnow()
    _set_status(session, cert, "suspension", True, now)
    cert.status, cert.status_reason, cert.status_changed_at = SUSPENDED, text, now
    _ledger(session, cert, "suspended", _acting_role(principal, cert))
    session.flush()
    return cert


def reinstate(session: Session, principal: Principal, number: str, reason: str | None) -> Certificate:
    _app, cert = _managed(session, principal, number)
    text = _reason(reason)
    if cert.status != SUSPENDED:
        raise Conflict(f"only a suspended certificate can be reinstated; {cert.number} is {cert.status}")
    now = utcnow()
    _set_status(session, cert, "suspension", False, now)
    cert.status, cert.status_reason, cert.status_changed_at = ACTIVE, text, now
    _ledger(session, cert, "reinstated", _acting_role(principal, cert))
    session.flush()
    return cert


def reissue(session: Session, principal: Principal, number: str, reason: str | None, corrections: dict[str, Any]) -> Certificate:
    """A corrected certificate: the same number, a new edition and credential; the old one is superseded and revoked."""

    app, old = _managed(session, principal, number)
    text = _reason(reason)
    if old.status == REVOKED:
        raise Conflict(f"certificate {old.number} is revoked; a revoked certificate is not reissued")
    service = service_for(session, app)
    data = {**unseal_data(app), **corrections}
    allowed = set(service.definition["form"]["schema"].get("properties", {}))
    unknown = sorted(set(corrections) - allowed)
    errors = [
        {"loc": ["body", "corrections", k], "msg": "not a field of this service's form", "type": "extra_forbidden"}
        for k in unknown
    ]
    errors += [
        {**e, "loc": ["body", "corrections", *e["loc"][1:]]}
        for e in form_errors(service.definition["form"]["schema"], data, "en")
    ]
    if errors:
        raise Invalid(f"{len(errors)} correction(s) are invalid", errors)
    now = utcnow()
    place = body_place(session, old.local_body_code)
    template = _template(session, service, old.output_type)
    record = build_record(template, service, data, list(place.state.languages))
    new = _successor(session, old, None, now, old.valid_from, old.valid_until)
    new.application_id, new.application_number, new.service_code = old.application_id, old.application_number, old.service_code
    _sign_credential(session, new, template=template, record=record, place=place, supersedes=old.credential_id, now=now)
    session.add(new)
    _set_status(session, old, "revocation", True, now)
    if old.status == SUSPENDED:
        _set_status(session, old, "suspension", False, now)
    old.status, old.status_reason, old.status_changed_at, old.superseded_by_id = SUPERSEDED, text, now, new.id
    if corrections:
        seal_data(session, app, data)
    _ledger(session, new, "reissued", _acting_role(principal, new), supersedes=old.credential_id)
    session.flush()
    return new

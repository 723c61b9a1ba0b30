"""DigiLocker issuer API: Pull URI and Pull Doc (XML, ``x-digilocker-hmac``), and the push of new certificates' URIs.

A requester sends ``PullURIRequest`` (DocType, DigiLockerId, UID, FullName, DOB and the document's
number as the additional parameter ``DocNo``) or ``PullDocRequest`` (URI); the body's
Base64(HMAC-SHA256(body, key)) comes in ``x-digilocker-hmac``. The answer carries the URI
(``<issuer id>-<DocType>-<number>``), the PDF (``DocContent``) and the certificate's data as XML
(``DataContent``), both base64, as ``format`` asks (``pdf``, ``xml`` or ``both``). DigiLocker is a
member of the exchange (``NAGARA_DIGILOCKER_MEMBER``): each pull is logged and on the ledger like
any other exchange, and the citizen sees it among who looked at their data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.certificates import service as certificates
from nagara.certificates.models import ACTIVE as CERT_ACTIVE
from nagara.certificates.models import Certificate
from nagara.exchange import service
from nagara.exchange.models import ACTIVE, Member
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid, NotAuthenticated, Problem
from nagara.kit.settings import Settings
from nagara.runtime import runtime_of

HMAC_HEADER = "x-digilocker-hmac"
FORMATS = ("xml", "pdf", "both")
SERVICE = "digilocker"


class NotConfigured(Problem):
    status = 404
    type_slug = "digilocker-not-configured"
    title = "DigiLocker issuing is not configured on this node"


def hmac_of(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def check_hmac(settings: Settings, body: bytes, given: str | None) -> None:
    key = settings.digilocker_api_key.get_secret_value()
    if not key or not settings.digilocker_issuer_id:
        raise NotConfigured("set NAGARA_DIGILOCKER_ISSUER_ID and NAGARA_DIGILOCKER_API_KEY to issue to DigiLocker")
    if not given or not hmac.compare_digest(given.strip().encode(), hmac_of(key, body).encode()):
        raise NotAuthenticated(f"{HMAC_HEADER} must be Base64(HMAC-SHA256(body, the issuer API key))")


def parse(body: bytes, root: str) -> ET.Element:
    lowered = body[:4096].lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise Invalid("invalid XML", [{"loc": ["body"], "msg": "XML without a DTD or entities", "type": "value_error"}])
    try:
        element = ET.fromstring(body)  # noqa: S314 - no DTD (checked above), so no entity expansion
    except ET.ParseError as exc:
        raise Invalid("invalid XML", [{"loc": ["body"], "msg": f"not well-formed XML: {exc}", "type": "value_error"}]) from None
    if _local(element.tag) != root:
        raise Invalid("invalid XML", [{"loc": ["body"], "msg": f"the root element must be {root}", "type": "value_error"}])
    return element


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _field(element: ET.Element, path: str) -> str:
    node = element
    for part in path.split("/"):
        found = next((child for child in node if _local(child.tag) == part), None)
        if found is None:
            return ""
        node = found
    return (node.text or "").strip()


@dataclass(frozen=True)
class Pulled:
    xml: bytes
    record_id: str | None


def _member(session: Session) -> Member:
    identifier = runtime_of(session).settings.digilocker_member
    member = session.scalar(select(Member).where(Member.identifier == identifier))
    if member is None or member.status != ACTIVE or SERVICE not in member.services:
        raise NotConfigured(f"register DigiLocker as the member {identifier} with the service {SERVICE}")
    return member


def _norm(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _names_on(credential: dict[str, Any]) -> set[str]:
    record = credential.get("credentialSubject", {}).get("record", [])
    return {_norm(str(f.get("value", ""))) for f in record if str(f.get("code", "")).endswith("name")}


def _doc_type(settings: Settings, output_type: str) -> str | None:
    return next((code for code, kind in settings.digilocker_doc_types.items() if kind == output_type), None)


def uri_of(settings: Settings, doc_type: str, number: str) -> str:
    return f"{settings.digilocker_issuer_id}-{doc_type}-{number}"


def _certificate_xml(cert: Certificate, credential: dict[str, Any]) -> bytes:
    """The certificate's data in DigiLocker's certificate XML form (Certificate, IssuedBy, IssuedTo, CertificateData)."""
    subject = credential.get("credentialSubject", {})
    root = ET.Element(
        "Certificate",
        {
            "language": "99",
            "name": str(subject.get("title", {}).get("en", cert.output_type))
            if isinstance(subject.get("title"), dict)
            else cert.output_type,
            "type": cert.output_type,
            "number": cert.number,
            "prevNumber": "",
            "expiryDate": cert.valid_until.date().isoformat() if cert.valid_until else "",
            "validFromDate": cert.valid_from.date().isoformat(),
            "issuedAt": cert.local_body_code,
            "issueDate": cert.issued_at.date().isoformat(),
            "status": "A" if cert.status == CERT_ACTIVE else "R",
        },
    )
    issued_by = ET.SubElement(root, "IssuedBy")
    ET.SubElement(issued_by, "Organization", {"name": cert.local_body_code, "code": cert.local_body_code, "type": "LG"})
    issued_to = ET.SubElement(root, "IssuedTo")
    names = [f for f in subject.get("record", []) if str(f.get("code", "")).endswith("name")]
    ET.SubElement(issued_to, "Person", {"name": str(names[0].get("value", "")) if names else ""})
    data = ET.SubElement(root, "CertificateData")
    for field in subject.get("record", []):
        ET.SubElement(data, "Field", {"code": str(field.get("code", "")), "value": str(field.get("value", ""))})
    ET.SubElement(root, "Signature")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _response(root_name: str, txn: str, status: int, details: dict[str, str]) -> bytes:
    root = ET.Element(root_name, {"xmlns:ns2": "http://tempuri.org/"})
    ts = utcnow().isoformat(timespec="seconds")
    ET.SubElement(root, "ResponseStatus", {"Status": str(status), "ts": ts, "txn": txn}).text = str(status)
    doc = ET.SubElement(root, "DocDetails")
    for name, value in details.items():
        ET.SubElement(doc, name).text = value
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _contents(session: Session, cert: Certificate, fmt: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if fmt in ("pdf", "both"):
        out["DocContent"] = base64.b64encode(certificates.pdf(session, cert)).decode()
    if fmt in ("xml", "both"):
        out["DataContent"] = base64.b64encode(_certificate_xml(cert, certificates.credential_of(session, cert))).decode()
    return out


def _format(request: ET.Element) -> str:
    fmt = request.get("format", "both").lower()
    if fmt not in FORMATS:
        raise Invalid("invalid format", [{"loc": ["body", "format"], "msg": "xml, pdf or both", "type": "value_error"}])
    return fmt


def _log(session: Session, member: Member, cert: Certificate, body: bytes, out: bytes) -> str:
    applicant = session.scalar(select(Application.applicant_id).where(Application.id == cert.application_id))
    row = service.record(
        session,
        direction="in",
        member_id=member.id,
        member_identifier=member.identifier,
        state_code=cert.state_code,
        service=SERVICE,
        purpose="digilocker-issue",
        consent_id=None,
        citizen_id=applicant,
        request_body=body,
        response_body=out,
        status=200,
    )
    return row.id


def pull_uri(session: Session, body: bytes) -> Pulled:
    """Find the certificate by DocType and DocNo whose record names FullName; answer its URI and contents."""
    settings = runtime_of(session).settings
    request = parse(body, "PullURIRequest")
    member = _member(session)
    txn, fmt = request.get("txn", ""), _format(request)
    doc_type, number = _field(request, "DocDetails/DocType"), _field(request, "DocDetails/DocNo").upper()
    full_name = _field(request, "DocDetails/FullName")
    kind = settings.digilocker_doc_types.get(doc_type)
    cert = certificates.by_number(session, number) if kind and number else None
    if (
        cert is None
        or cert.output_type != kind
        or not full_name
        or _norm(full_name) not in _names_on(certificates.credential_of(session, cert))
    ):
        return Pulled(_response("PullURIResponse", txn, 0, {"DocType": doc_type, "URI": ""}), None)
    details = {
        "DocType": doc_type,
        "DigiLockerId": _field(request, "DocDetails/DigiLockerId"),
        "UID": _field(request, "DocDetails/UID"),
        "FullName": full_name,
        "DOB": _field(request, "DocDetails/DOB"),
        "URI": uri_of(settings, doc_type, cert.number),
        **_contents(session, cert, fmt),
    }
    out = _response("PullURIResponse", txn, 1, details)
    return Pulled(out, _log(session, member, cert, body, out))


def pull_doc(session: Session, body: bytes) -> Pulled:
    """The document a URI names (one this node gave out)."""
    settings = runtime_of(session).settings
    request = parse(body, "PullDocRequest")
    member = _member(session)
    txn, fmt = request.get("txn", ""), _format(request)
    uri = _field(request, "DocDetails/URI")
    prefix = settings.digilocker_issuer_id + "-"
    doc_type, _, number = uri.removeprefix(prefix).partition("-") if uri.startswith(prefix) else ("", "", "")
    kind = settings.digilocker_doc_types.get(doc_type)
    cert = certificates.by_number(session, number) if kind and number else None
    if cert is None or cert.output_type != kind:
        return Pulled(_response("PullDocResponse", txn, 0, {}), None)
    out = _response("PullDocResponse", txn, 1, _contents(session, cert, fmt))
    return Pulled(out, _log(session, member, cert, body, out))


def push_request(settings: Settings, cert: Certificate, doc_type: str, at: datetime) -> bytes:
    """A PushUriRequest telling DigiLocker a certificate was issued (Action A: add)."""
    root = ET.Element(
        "PushUriRequest",
        {
            "xmlns:ns2": "http://tempuri.org/",
            "ver": "1.0",
            "ts": at.isoformat(timespec="seconds"),
            "txn": cert.id,
            "orgId": settings.digilocker_issuer_id,
            "keyhash": "",
        },
    )
    details = ET.SubElement(root, "UriDetails")
    for name, value in (
        ("DocType", doc_type),
        ("DocId", cert.number),
        ("URI", uri_of(settings, doc_type, cert.number)),
        ("IssueDate", cert.issued_at.date().isoformat()),
        ("ValidFrom", cert.valid_from.date().isoformat()),
        ("ValidTo", cert.valid_until.date().isoformat() if cert.valid_until else ""),
        ("Action", "A"),
    ):
        ET.SubElement(details, name).text = value
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def push_issued(session: Session, payload: dict[str, Any]) -> None:
    """After an approval commits: push the URI of each certificate issued for the application (retried by the outbox)."""
    settings = runtime_of(session).settings
    if not settings.digilocker_push_url or payload.get("outcome") != "approved":
        return
    cert = session.scalar(
        select(Certificate).where(Certificate.application_id == payload["case_id"]).order_by(Certificate.edition.desc()).limit(1)
    )
    doc_type = _doc_type(settings, cert.output_type) if cert else None
    if cert is None or doc_type is None:
        return
    body = push_request(settings, cert, doc_type, utcnow())
    key = settings.digilocker_api_key.get_secret_value()
    headers = {"Content-Type": "application/xml", HMAC_HEADER: hmac_of(key, body)}
    response = httpx.post(settings.digilocker_push_url, content=body, headers=headers, timeout=30.0)
    if not response.is_success:
        raise RuntimeError(f"DigiLocker push of {cert.number} answered {response.status_code}")  # the outbox retries

"""Certificate routes: the citizen's and officer's under /api/v1; the public ones (DID, JWKS, status lists, verify) outside."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from nagara.certificates import ld, online, service
from nagara.certificates.issuer import issuer_for
from nagara.certificates.models import Certificate
from nagara.certificates.schemas import CertificateOut, EditionOut, Links, ReasonIn, ReissueIn, VerifyIn, VerifyOut
from nagara.certificates.verify import InputError
from nagara.identity.deps import CurrentPrincipal, DbSession, get_runtime
from nagara.kit.api import API_PREFIX, json_response
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid

router = APIRouter(prefix=API_PREFIX, tags=["certificates"])
public_router = APIRouter(tags=["certificates"])
MAX_PDF = 5 * 1024 * 1024
VC_MEDIA_TYPE = "application/vc+ld+json"


def _edition(cert: Certificate) -> EditionOut:
    return EditionOut(
        number=cert.number,
        edition=cert.edition,
        credential_id=cert.credential_id,
        status=cert.status,
        status_reason=cert.status_reason,
        status_changed_at=cert.status_changed_at,
        issued_at=cert.issued_at,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
        expired=bool(cert.valid_until and cert.valid_until < utcnow()),
        application_number=cert.application_number,
    )


def _out(session: DbSession, request: Request, number: str, certs: list[Certificate]) -> CertificateOut:
    cert = service.current(certs)
    issuer = issuer_for(get_runtime(request).settings)
    credential = service.credential_of(session, cert)
    base = f"{API_PREFIX}/applications/{number}"
    return CertificateOut(
        **_edition(cert).model_dump(),
        output_type=cert.output_type,
        title=credential["credentialSubject"]["title"],
        local_body=cert.local_body_code,
        issuer=issuer.did,
        links=Links(
            pdf=f"{base}/certificate.pdf",
            credential=f"{base}/certificate/credential",
            verify=f"/verify?number={cert.number}",
            status_lists=[e["statusListCredential"] for e in credential["credentialStatus"]],
        ),
        editions=[_edition(c) for c in certs],
    )


@router.get("/applications/{number}/certificate", response_model=CertificateOut)
def get_certificate(number: str, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The application's certificate or licence: status, validity, every edition, and links to the PDF and credential."""
    _app, certs = service.for_application(session, principal, number)
    return json_response(_out(session, request, number, certs))


@router.get("/applications/{number}/certificate.pdf", response_class=Response)
def get_certificate_pdf(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The certificate as a printable A4 PDF with its QR code (the applicant, or an officer of the local body)."""
    _app, certs = service.for_application(session, principal, number)
    cert = service.current(certs)
    return Response(
        service.pdf(session, cert),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{cert.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/applications/{number}/certificate/credential")
def get_credential(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The current edition's W3C Verifiable Credential (eddsa-rdfc-2022), for a wallet or another system."""
    _app, certs = service.for_application(session, principal, number)
    credential = service.credential_of(session, service.current(certs))
    return Response(
        json.dumps(credential, ensure_ascii=False), media_type=VC_MEDIA_TYPE, headers={"Cache-Control": "private, no-store"}
    )


def _changed(session: DbSession, request: Request, number: str) -> Response:
    _app, certs = service.for_application(session, request.state.principal, number)
    return json_response(_out(session, request, number, certs))


@router.post("/applications/{number}/certificate/revoke", response_model=CertificateOut)
def revoke(number: str, body: ReasonIn, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Revoke for good, with the reason; verifiers see it revoked through the status list at once."""
    service.revoke(session, principal, number, body.reason)
    return _changed(session, request, number)


@router.post("/applications/{number}/certificate/suspend", response_model=CertificateOut)
def suspend(number: str, body: ReasonIn, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    service.suspend(session, principal, number, body.reason)
    return _changed(session, request, number)


@router.post("/applications/{number}/certificate/reinstate", response_model=CertificateOut)
def reinstate(number: str, body: ReasonIn, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    service.reinstate(session, principal, number, body.reason)
    return _changed(session, request, number)


@router.post("/applications/{number}/certificate/reissue", response_model=CertificateOut)
def reissue(number: str, body: ReissueIn, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """A corrected edition: same number, new credential; the old edition is superseded (and revoked in the status list)."""
    service.reissue(session, principal, number, body.reason, body.corrections)
    return _changed(session, request, number)


# --- public --------------------------------------------------------------------------------


def _public_json(value: Any, media_type: str = "application/json", max_age: int = 300) -> Response:
    return Response(
        json.dumps(value, ensure_ascii=False),
        media_type=media_type,
        headers={"Cache-Control": f"public, max-age={max_age}", "Access-Control-Allow-Origin": "*"},
    )


@public_router.get("/.well-known/did.json")
def did_document(request: Request) -> Response:
    """The issuer's DID document (did:web), with its Multikey assertion key."""
    return _public_json(issuer_for(get_runtime(request).settings).did_document(), "application/did+ld+json")


@public_router.get("/.well-known/jwks.json")
def jwks(request: Request) -> Response:
    """The issuer's keys as a JWKS (RFC 7517); ``kid`` is the DID verification method."""
    return _public_json(issuer_for(get_runtime(request).settings).jwks(), "application/jwk-set+json")


@public_router.get("/credentials/status/{list_id}")
def status_list(list_id: str, session: DbSession) -> Response:
    """A signed BitstringStatusListCredential (revocation-N or suspension-N)."""
    return _public_json(service.status_list_credential(session, list_id), VC_MEDIA_TYPE, max_age=60)


@public_router.get("/contexts/certificates/v1")
def context() -> Response:
    """The JSON-LD context of our certificates' terms (also shipped with every verifier we make)."""
    return _public_json(ld.context_document(ld.NAGARA_V1), "application/ld+json", max_age=86400)


@public_router.post("/credentials/verify", response_model=VerifyOut)
def verify_credential(body: VerifyIn, session: DbSession) -> JSONResponse:
    """VC-API: verify a credential: proof, validity, status list, and where it sits in the ledger."""
    return JSONResponse(online.verify_credential(session, body.verifiableCredential))


@public_router.post("/credentials/verify-document", response_model=VerifyOut)
def verify_any(
    session: DbSession,
    file: Annotated[UploadFile | None, File(description="the certificate PDF")] = None,
    qr: Annotated[str | None, Form(description="the QR code's content")] = None,
    number: Annotated[str | None, Form(description="the registration or licence number")] = None,
) -> JSONResponse:
    """Verify a certificate PDF, a QR code's content, or a number (multipart or url-encoded form) - the page's checks as JSON."""
    if file is not None and file.filename:
        content = file.file.read(MAX_PDF + 1)
        if len(content) > MAX_PDF:
            raise Invalid("file too large", [{"loc": ["body", "file"], "msg": f"at most {MAX_PDF:,} bytes", "type": "too_large"}])
        return JSONResponse(_or_invalid(lambda: online.verify_pdf(session, content), "file"))
    if qr and qr.strip():
        return JSONResponse(_or_invalid(lambda: online.verify_qr(session, qr), "qr"))
    if number and number.strip():
        return JSONResponse(online.verify_number(session, number))
    raise Invalid(
        "nothing to verify",
        [{"loc": ["body"], "msg": "give one of: file (the PDF), qr (the QR code's content) or number", "type": "missing"}],
    )


def _or_invalid(call: Any, field: str) -> dict[str, Any]:

    try:
        value: dict[str, Any] = call()
    except InputError as exc:
        raise Invalid(str(exc), [{"loc": ["body", field], "msg": str(exc), "type": "value_error"}]) from None
    return value

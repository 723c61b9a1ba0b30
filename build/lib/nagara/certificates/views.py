"""The public verification page: upload the PDF, paste (or scan to) the QR code's content, or type the number."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from nagara.certificates import online
from nagara.certificates.verify import InputError
from nagara.identity.deps import DbSession
from nagara.kit.errors import Invalid
from nagara.web import csrf
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.pages import form_text
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_PDF = 5 * 1024 * 1024

HEADLINES = {
    "current": N_("Genuine and current"),
    "revoked": N_("Genuine, but revoked"),
    "suspended": N_("Genuine, but suspended"),
    "expired": N_("Genuine, but expired"),
    "superseded": N_("Genuine, but replaced by a newer edition"),
    "not_yet_valid": N_("Genuine, but not yet valid"),
    "invalid": N_("Not genuine: do not accept it"),
}
EXPLANATIONS = {
    "current": N_("It was issued by this node's key, nothing in it has been changed, and it has not been revoked or suspended."),
    "revoked": N_("The issuing office has withdrawn it. It must not be accepted."),
    "suspended": N_("The issuing office has suspended it for now. Ask the holder to contact the office."),
    "expired": N_("Its period of validity has ended. A licence must be renewed."),
    "superseded": N_("A corrected or renewed edition has been issued. Ask the holder for the newer one."),
    "not_yet_valid": N_("Its period of validity has not started yet."),
    "invalid": N_("Its signature does not match: it was changed after it was issued, or was not issued here."),
}
CHECKS = {
    "proof": N_("Digital signature"),
    "qr-signature": N_("Signature of the QR code"),
    "validity": N_("Period of validity"),
    "status": N_("Revocation and suspension lists"),
}


def _page(request: Request, result: dict[str, Any] | None, errors: dict[str, str], status_code: int = 200) -> Response:
    context: dict[str, Any] = {"page_title": _("Verify a certificate"), "result": result, "errors": errors}
    if result is not None:
        status = str(result["status"])
        context.update(
            headline=_(HEADLINES.get(status, HEADLINES["invalid"])),
            explanation=_(EXPLANATIONS.get(status, EXPLANATIONS["invalid"])),
            check_names={k: _(v) for k, v in CHECKS.items()},
            good=status == "current",
        )
    return render(request, "certificates/verify.html", context, status_code=status_code)


def _attempt(request: Request, call: Any, field: str) -> Response:
    try:
        return _page(request, call(), {})
    except InputError as exc:
        return _page(request, None, {field: str(exc)}, 422)
    except Invalid as exc:
        return _page(request, None, {field: exc.detail}, 422)


@router.get("/verify")
def verify_page(request: Request, session: DbSession, c: str | None = None, number: str | None = None) -> Response:
    """The form; a scanned QR code opens this page with ``?c=`` and sees the answer at once."""
    if c:
        return _attempt(request, lambda: online.verify_qr(session, c), "qr")
    if number:
        return _attempt(request, lambda: online.verify_number(session, number), "number")
    return _page(request, None, {})


@router.post("/verify")
async def verify_submit(request: Request, session: DbSession) -> Response:
    async with request.form(max_files=1, max_fields=8) as form:
        return await _submitted(request, session, form)


async def _submitted(request: Request, session: DbSession, form: FormData) -> Response:
    csrf.check_anonymous(request, form.get(csrf.FIELD))
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_PDF + 1)
        if len(content) > MAX_PDF:
            return _page(request, None, {"file": _("The file is too large: a certificate PDF is under 5 MB.")}, 422)
        return _attempt(request, lambda: online.verify_pdf(session, content), "file")
    qr = form_text(form, "qr")
    if qr:
        return _attempt(request, lambda: online.verify_qr(session, qr), "qr")
    number = form_text(form, "number")
    if number:
        return _attempt(request, lambda: online.verify_number(session, number), "number")
    return _page(request, None, {"_": _("Choose the certificate's PDF, paste its QR code, or type its number.")}, 422)

"""Assisted access: an operator applies for a citizen, who consents with a code sent to their phone.

1. the operator chooses the service and enters the citizen's mobile: ``request_consent`` texts
   the citizen a code naming the operator's local body and the service;
2. the citizen reads the code out; ``applications.create(on_behalf=...)`` checks it and opens
   a draft in the citizen's name, filed by the operator, with the consent time recorded;
3. the operator fills in the same form the citizen would (the portal's draft form).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.routing import NoMatchFound

from nagara.applications import service
from nagara.applications.views import edit_draft
from nagara.catalog import service as catalog
from nagara.identity.deps import DbSession, PagePrincipal, get_runtime
from nagara.kit.access import Principal, scope
from nagara.kit.errors import Forbidden, Invalid, NotFound, TooManyRequests
from nagara.officer.common import WORKBENCH, officer_or_redirect, page
from nagara.tenancy import context as tenancy
from nagara.tenancy.models import LocalBody
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, see_other

router = APIRouter(include_in_schema=False)


def _assisting(request: Request, principal: Principal | None) -> Principal | Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    if not officer.has("identity:citizen:assist"):
        raise Forbidden("assisted applications are made by operators and counter clerks")
    return officer


def _choices(session: DbSession, principal: Principal) -> list[dict[str, Any]]:
    """The services the operator may apply for, per local body where they assist."""
    held = scope(principal, "identity:citizen:assist", state_col=LocalBody.state_code, local_body_col=LocalBody.code)
    bodies = session.scalars(select(LocalBody).where(held).order_by(LocalBody.code)).all()
    return [
        {
            "code": body.code,
            "name": body.name,
            "services": [{"code": s.code, "name": s.definition["name"]} for s in catalog.list_services(session, body.code)],
        }
        for body in bodies
    ]


def _start(
    request: Request,
    session: DbSession,
    officer: Principal,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    bodies = _choices(session, officer)
    context = {"page_title": _("Apply for a citizen"), "bodies": bodies, "values": values, "errors": errors}
    return page(request, session, officer, "officer/assist.html", context, status_code=status_code)


@router.get("/officer/assist")
def start(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _assisting(request, principal)
    if isinstance(officer, Response):
        return officer
    return _start(request, session, officer, values={}, errors={})


def _code_page(
    request: Request,
    session: DbSession,
    officer: Principal,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    svc = catalog.get_service(session, values["body"], values["service"])
    body = tenancy.place(session, values["body"]).body
    context = {
        "page_title": _("Enter the citizen's consent code"),
        "values": values,
        "errors": errors,
        "service_name": svc.definition["name"],
        "body_name": body.name if body else values["body"],
        "masked": "•" * 6 + values["mobile"][-4:],
        "minutes": get_runtime(request).settings.otp_ttl_seconds // 60,
    }
    return page(request, session, officer, "officer/assist_code.html", context, status_code=status_code)


@router.post("/officer/assist")
async def send_code(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _assisting(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    choice = form_text(form, "service")
    body_code, _sep, service_code = choice.partition("/")
    values = {"body": body_code, "service": service_code, "choice": choice, "mobile": form_text(form, "mobile")}
    if not service_code:
        return _start(request, session, officer, values=values, errors={"service": _("Choose the service.")}, status_code=422)
    try:
        with attempt(session):
            issued = service.request_consent(
                session,
                officer,
                tenant=body_code,
                service_code=service_code,
                mobile=values["mobile"],
                ip=request.client.host if request.client else None,
            )
    except Invalid as exc:
        errors = field_errors(exc)
        shown = (
            {"mobile": _("Enter a 10-digit Indian mobile number starting with 6, 7, 8 or 9.")}
            if "mobile" in errors
            else {"_": exc.detail}
        )
        return _start(request, session, officer, values=values, errors=shown, status_code=422)
    except NotFound:
        return _start(request, session, officer, values=values, errors={"service": _("Choose the service.")}, status_code=422)
    except TooManyRequests:
        errors = {"mobile": _("Too many codes were sent to this number. Try again in an hour.")}
        return _start(request, session, officer, values=values, errors=errors, status_code=429)
    values["challenge_id"] = issued.challenge_id
    return _code_page(request, session, officer, values, {})


@router.post("/officer/assist/consent")
async def consent(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _assisting(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    values = {k: form_text(form, k) for k in ("body", "service", "mobile", "challenge_id")}
    on_behalf = service.OnBehalf(mobile=values["mobile"], challenge_id=values["challenge_id"], code=form_text(form, "code"))
    try:
        with attempt(session):
            app = service.create(
                session,
                officer,
                tenant=values["body"],
                service_code=values["service"],
                data={},
                submit=False,
                on_behalf=on_behalf,
            )
    except Invalid as exc:
        message = field_errors(exc).get("code", "")
        shown = (
            _("The code is wrong. Ask the citizen to read it again from the SMS.")
            if "attempt" in message
            else _("This code cannot be used. Send a new code.")
        )
        return _code_page(request, session, officer, values, {"code": shown}, status_code=422)
    except TooManyRequests:
        return _code_page(
            request, session, officer, values, {"code": _("This code cannot be used. Send a new code.")}, status_code=429
        )
    return see_other(f"{WORKBENCH}/assist/{app.number}")


def _draft_form(request: Request, number: str) -> str | None:
    """The citizen portal's page for filling in the draft, if the app serving this request has it.

    The operator, as the draft's filer, may use it like the citizen. The app is asked (it
    includes this module's router, so this module does not import it).
    """
    try:
        return str(request.app.url_path_for(edit_draft.__name__, number=number))
    except NoMatchFound:
        return None


@router.get("/officer/assist/{number}")
def started(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _assisting(request, principal)
    if isinstance(officer, Response):
        return officer
    app = service.get(session, officer, number)
    if app.filed_by_id != officer.user_id:
        raise NotFound("no application you filed with this number")
    svc = service.service_for(session, app)
    context = {
        "page_title": _("Consent recorded"),
        "app": app,
        "service_name": svc.definition["name"],
        "form_url": _draft_form(request, app.number),
    }
    return page(request, session, officer, "officer/assist_started.html", context)

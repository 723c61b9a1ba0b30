"""The data principal's pages: who read my data."""

from __future__ import annotations

from urllib.parse import quote as urlquote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from nagara.catalog import notices
from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import NotAuthenticated, NotFound
from nagara.privacy import breaches, consent, service
from nagara.tenancy.context import body_place, zone_of
from nagara.tenancy.context import place as tenant_place
from nagara.tenancy.models import State
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, form_text, see_other
from nagara.web.templating import localised, render

router = APIRouter(include_in_schema=False)

RECORD_TYPES = {
    "application": N_("Your application"),
    "document": N_("A document of your application"),
}


@router.get("/my/data/access")
def access_page(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to see who read your data")
    seen = service.access_log(session, principal)
    context = {
        "page_title": _("Who looked at my data"),
        "seen": seen,
        "record_types": {code: _(text) for code, text in RECORD_TYPES.items()},
        "timezone": zone_of(session, principal.state_code).key,
    }
    return render(request, "privacy/access.html", context)


def _notice_context(session: DbSession, svc: Service) -> dict[str, object]:
    return {
        "privacy_notice": notices.notice(session, svc),
        "retention_classes": notices.RETENTION,
        "legal_basis": notices.BASIS_LEGITIMATE_USE,
        "board_url": notices.BOARD_URL,
    }


@router.get("/privacy/notices/{tenant}/{code}")
def notice_page(request: Request, tenant: str, code: str, session: DbSession) -> Response:
    """A service's privacy notice, standing alone (DPDP Rules 2025, Rule 3), from the loaded pack."""
    body = body_place(session, tenant).body
    svc = catalog.get_service(session, tenant, code)
    context = {
        "page_title": _("Privacy notice: %(service)s") % {"service": localised(svc.definition["name"])},
        "body": body,
        **_notice_context(session, svc),
    }
    return render(request, "privacy/notice.html", context)


@router.get("/privacy/record-of-processing")
def processing_index(request: Request, session: DbSession) -> Response:
    states = list(session.execute(select(State.code, State.name).order_by(State.code)))
    context = {"page_title": _("The record of processing"), "states": states}
    return render(request, "privacy/processing_index.html", context)


@router.get("/privacy/record-of-processing/{state}")
def processing(request: Request, state: str, session: DbSession) -> Response:
    """Every purpose of a state's services: the data, the basis, how long it is kept, who receives it."""
    place = tenant_place(session, state[:32])
    if place.body is not None:
        raise NotFound(f"{state!r} is a local body; the record of processing is a state's, such as 'kl'")
    context = {
        "page_title": _("Record of processing: %(state)s") % {"state": localised(place.state.name)},
        "rows": notices.record_of_processing(session, place.state.code),
        "retention_classes": notices.RETENTION,
        "sign_in_purpose": notices.SIGN_IN_PURPOSE,
        "sign_in_data": notices.SIGN_IN_DATA,
    }
    return render(request, "privacy/processing.html", context)


ERASURE_STATUS = {
    service.ERASABLE: N_("A draft: you can erase its answers and documents now."),
    service.WITHDRAW_FIRST: N_("Being decided: withdraw it first if you no longer want it."),
    service.KEPT_BY_LAW: N_(
        "Decided: it is an entry in a register that the law requires the local body to keep, so it cannot be erased. "
        "A wrong entry is corrected through the service."
    ),
}


def _erasure_page(request: Request, session: DbSession, principal: Principal, *, notice: str = "", status: int = 200) -> Response:
    context = {
        "page_title": _("Erase my data"),
        "items": service.erasure_options(session, principal),
        "statuses": {code: _(text) for code, text in ERASURE_STATUS.items()},
        "notice": notice,
    }
    return render(request, "privacy/erase.html", context, status_code=status)


@router.get("/my/data/erase")
def erasure_page(request: Request, session: DbSession, principal: PagePrincipal, erased: str = "") -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to erase your data")
    notice = _("The draft %(number)s is erased.") % {"number": erased[:64]} if erased else ""
    return _erasure_page(request, session, principal, notice=notice)


@router.post("/my/data/erase")
async def erase_draft(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to erase your data")
    form = await request.form()
    number = form_text(form, "application")[:64]
    try:
        with attempt(session):
            service.erase_application(session, principal, number)
    except service.NotErasable as exc:
        return _erasure_page(request, session, principal, notice=_(ERASURE_STATUS[exc.why]), status=409)
    return see_other(f"/my/data/erase?erased={urlquote(number)}")


def _consents_page(request: Request, session: DbSession, principal: Principal, *, notice: str = "") -> Response:
    rows = consent.mine(session, principal)
    context = {
        "page_title": _("My consents"),
        "consents": [(row, consent.status(row)) for row in rows],
        "purposes": {code: _(p.name) for code, p in consent.PURPOSES.items()},
        "statuses": {"active": _("In force"), "expired": _("Expired"), "withdrawn": _("Withdrawn")},
        "notice": notice,
        "timezone": zone_of(session, principal.state_code).key,
    }
    return render(request, "privacy/consents.html", context)


@router.get("/my/data/consents")
def consents_page(request: Request, session: DbSession, principal: PagePrincipal, done: str = "") -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to see your consents")
    notices_ = {"given": _("Your consent is recorded."), "withdrawn": _("Your consent is withdrawn. It ends now.")}
    return _consents_page(request, session, principal, notice=notices_.get(done, ""))


@router.post("/my/data/consents")
async def give_consent(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to give consent")
    form = await request.form()
    consent.give(session, principal, purpose=form_text(form, "purpose")[:64], days=180, via="portal")
    return see_other("/my/data/consents?done=given")


@router.post("/my/data/consents/{consent_id}/withdraw")
def withdraw_consent(consent_id: str, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to withdraw your consent")
    consent.withdraw(session, principal, consent_id[:36], via="portal")
    return see_other("/my/data/consents?done=withdrawn")


BREACH_DUES = {
    "board_intimation": N_("Intimation to the Data Protection Board"),
    "people": N_("Notice to each person affected"),
    "cert_in": N_("Report to CERT-In"),
    "board_report": N_("Detailed report to the Board"),
}


@router.get("/officer/privacy/breaches")
def breach_register(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """The Data Protection Officer's register of breaches, each with what the Rules ask and by when."""
    if principal is None or principal.kind != "officer":
        raise NotAuthenticated("sign in as an officer to see the breach register")
    now = utcnow()
    rows = [(row, [(d, d.overdue(now)) for d in breaches.due(row)]) for row in breaches.register(session, principal)]
    context = {
        "page_title": _("Data breaches"),
        "rows": rows,
        "dues": {code: _(text) for code, text in BREACH_DUES.items()},
        "timezone": zone_of(session, principal.state_code).key,
        "nav": {
            "inbox": principal.has("applications:application:read"),
            "assist": principal.has("identity:citizen:assist"),
            "admin": any(principal.has(p) for p in ("tenancy:settings:read", "identity:user:read", "tenancy:pack:read")),
            "breaches": principal.has(breaches.MANAGE),
        },
    }
    return render(request, "privacy/breaches.html", context)

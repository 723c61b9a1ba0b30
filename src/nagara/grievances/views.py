"""Grievance pages: a citizen files one (seeing open ones like it first, to say "me too"), follows it,
confirms, rates or reopens it; an officer works the grievance inbox by due time and resolves with a
note and a photo; anyone reads a local body's public grievances."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from nagara.grievances import assist, public, service
from nagara.grievances.categories import Category, for_body
from nagara.grievances.categories import get as get_category
from nagara.grievances.models import Grievance
from nagara.grievances.photos import MAX_PHOTO_BYTES, check_photo
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid, NotFound, Problem
from nagara.tenancy.context import body_place, zone_of
from nagara.tenancy.models import Ward
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, see_other, sign_in_redirect
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)

STATE_NAMES = {
    "received": N_("Received"),
    "assigned": N_("Assigned to an officer"),
    "in_progress": N_("Work in progress"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}
ACTION_NAMES = {
    "file": N_("Filed"),
    "assign": N_("Assigned"),
    "start": N_("Work started"),
    "transfer": N_("Transferred"),
    "interim_reply": N_("Interim reply"),
    "resolve": N_("Resolved"),
    "confirm": N_("Confirmed by the citizen"),
    "reopen": N_("Reopened by the citizen"),
    "rate": N_("Rated by the citizen"),
    "merge": N_("Merged into another grievance"),
    "escalate": N_("Moved to the next level: the time limit passed"),
    "overdue": N_("Time limit passed"),
    "close": N_("Closed"),
}


# What a refused step says on the page, in the reader's language, by the field the service named.
FIELD_MESSAGES = {
    "comment": N_("Write the reason: this step needs it."),
    "to_category": N_("Choose another department's category, or another local body, to transfer to."),
    "to_local_body": N_("There is no local body with that code in this state."),
    "into": N_("Give the number of another open grievance of this local body that this one duplicates."),
    "to_user": N_("Choose an active officer who handles grievances here."),
    "numbers": N_("Choose at least one grievance, each once."),
}
STATUS_MESSAGES = {
    403: N_("You may not take this step on this grievance."),
    404: N_("Nothing was found for the number or code you gave."),
    412: N_("Someone else changed this grievance in the meantime: look at it again and repeat the step."),
}


def _message(exc: Problem) -> str:
    """The refusal in the reader's language where the page knows it, else the service's own words."""
    if isinstance(exc, Invalid):
        errors = field_errors(exc)
        return "; ".join(_(FIELD_MESSAGES[k]) if k in FIELD_MESSAGES else v for k, v in errors.items())
    if exc.status in STATUS_MESSAGES:
        return _(STATUS_MESSAGES[exc.status])
    return exc.detail


def _names() -> dict[str, dict[str, str]]:
    return {
        "states": {k: _(v) for k, v in STATE_NAMES.items()},
        "actions": {k: _(v) for k, v in ACTION_NAMES.items()},
    }


def _citizen(request: Request, principal: Principal | None) -> Principal | Response:
    if principal is None or principal.kind != "citizen":
        return sign_in_redirect(request)
    return principal


def _officer(request: Request, principal: Principal | None) -> Principal | Response:
    if principal is None or principal.kind != "officer":
        return sign_in_redirect(request)
    return principal


def _wards(session: Session, body: str) -> list[Ward]:
    return list(session.scalars(select(Ward).where(Ward.local_body_code == body).order_by(Ward.number)))


def _context(session: Session, body: str) -> dict[str, Any]:
    place = body_place(session, body)
    return {"body": place.body, "timezone": place.zone.key, **_names()}


# --- citizens --------------------------------------------------------------------------------------


@router.get("/grievances/{tenant}/new")
def choose(request: Request, tenant: str, session: DbSession) -> Response:
    """What is the grievance about: the local body's categories."""
    context = {**_context(session, tenant), "categories": for_body(session, tenant), "page_title": _("File a grievance")}
    return render(request, "grievances/choose.html", context)


def _new_page(
    request: Request,
    session: Session,
    tenant: str,
    category: Category,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    candidates: list[assist.Candidate] | None = None,
) -> Response:
    similar = [] if candidates else service.similar_open(session, body_place(session, tenant).body.code, category.code, None)
    context = {
        **_context(session, tenant),
        "category": category,
        "wards": _wards(session, tenant),
        "similar": similar,
        "candidates": candidates or [],
        "values": values,
        "errors": errors,
        "page_title": _("File a grievance"),
    }
    return render(request, "grievances/new.html", context, status_code=status_code)


@router.get("/grievances/{tenant}/new/{code}")
def new(request: Request, tenant: str, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    """The form, with the open public grievances of the same kind here (say "me too" instead of filing again)."""
    who = _citizen(request, principal)
    if isinstance(who, Response):
        return who
    category = get_category(session, tenant, code)
    return _new_page(request, session, tenant, category, values={}, errors={})


def _attributes(category: Category, form: FormData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in category.attributes:
        name = f"attr-{attr['code']}"
        if attr["datatype"] == "multivaluelist":
            out[attr["code"]] = [v for v in form.getlist(name) if isinstance(v, str)]
        elif attr["datatype"] == "number":
            text = form_text(form, name)
            try:
                out[attr["code"]] = int(text) if text.lstrip("-").isdigit() else (float(text) if text else None)
            except ValueError:
                out[attr["code"]] = text
        else:
            out[attr["code"]] = form_text(form, name) or None
    return out


COORDINATE_MESSAGES = {
    "number": N_("Write a number in decimal degrees: latitude from -90 to 90, longitude from -180 to 180."),
    "missing": N_("Give both latitude and longitude, or neither."),
    "value_error": N_("Write a number in decimal degrees: latitude from -90 to 90, longitude from -180 to 180."),
    "outside": N_("That point lies outside the state: check the latitude and longitude."),
}


def _coordinate(text: str, name: str) -> float | None:
    """A latitude or longitude typed in the form: empty, or a finite decimal number (the service checks its range)."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "nan" and "inf" are floats to Python, never a place
        raise Invalid(f"{name} is not a number", [{"loc": ["body", name], "msg": f"{name} is not a number", "type": "number"}])
    return value


def _where_errors(exc: Invalid) -> dict[str, str]:
    """The form's errors, a latitude's or longitude's in the reader's language."""
    errors = field_errors(exc)
    for err in exc.extra.get("errors", []):
        name = str(err.get("loc", [""])[-1])
        if name in ("lat", "lon") and err.get("type") in COORDINATE_MESSAGES:
            errors[name] = _(COORDINATE_MESSAGES[str(err["type"])])
    return errors


@router.post("/grievances/{tenant}/new/{code}")
async def file(request: Request, tenant: str, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = _citizen(request, principal)
    if isinstance(who, Response):
        return who
    category = get_category(session, tenant, code)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    ward_text = form_text(form, "ward")
    try:
        lat, lon = _coordinate(form_text(form, "lat"), "lat"), _coordinate(form_text(form, "lon"), "lon")
    except Invalid as exc:
        return _new_page(request, session, tenant, category, values=values, errors=_where_errors(exc), status_code=422)
    where = service.Where(int(ward_text) if ward_text.isdigit() else None, form_text(form, "address") or None, lat, lon)
    filing = service.Filing(
        body_place(session, tenant).body.code, code, form_text(form, "description"), where, _attributes(category, form)
    )
    if not form_text(form, "file_anyway"):
        # Is it one of these? The open grievances that probably report the same problem, before a new one.
        candidates = assist.duplicates_for_filing(
            session, who, filing.local_body_code, category.code, where.ward, filing.description, now=utcnow()
        )
        if candidates:
            return _new_page(request, session, tenant, category, values=values, errors={}, candidates=candidates)
    try:
        with attempt(session):
            g = service.file(session, who, filing, now=utcnow(), channel="portal")
    except Invalid as exc:
        return _new_page(request, session, tenant, category, values=values, errors=_where_errors(exc), status_code=422)
    return see_other(f"/my/grievances/{g.number}")


@router.get("/my/grievances")
def mine(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    who = _citizen(request, principal)
    if isinstance(who, Response):
        return who
    found = list(
        session.scalars(
            select(Grievance).where(Grievance.citizen_id == who.user_id).order_by(Grievance.created_at.desc()).limit(200)
        )
    )
    context = {
        "grievances": found,
        "page_title": _("My grievances"),
        "timezone": zone_of(session, who.state_code).key,
        **_names(),
    }
    return render(request, "grievances/mine.html", context)


def _detail(
    request: Request,
    session: Session,
    who: Principal,
    g: Grievance,
    *,
    error: str = "",
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    now = utcnow()
    out = public.full(session, who, g, now)
    context = {
        **_context(session, g.local_body_code),
        "g": out,
        "category": service.category_of(session, g),
        "allowed": out.allowed_actions,
        "error": error,
        "page_title": _("Grievance %(number)s") % {"number": g.number},
    }
    template = "grievances/officer.html" if who.kind == "officer" else "grievances/detail.html"
    if who.kind == "officer":
        context["triage"] = assist.triage_of(session, g)
        context["merge_candidates"] = assist.merge_candidates(session, g)
        context["category_names"] = {c.code: c.definition["name"] for c in for_body(session, g.local_body_code)}
        context["nav"] = {"inbox": who.has("applications:application:read"), "assist": False, "admin": False}
        context["max_photo"] = MAX_PHOTO_BYTES
        context["categories"] = for_body(session, g.local_body_code)
        context["values"] = values or {}
    return render(request, template, context, status_code=status_code)


@router.get("/my/grievances/{number}")
def detail(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = _citizen(request, principal)
    if isinstance(who, Response):
        return who
    g = service.read(session, who, number)
    return _detail(request, session, who, g)


async def _act(request: Request, session: Session, who: Principal, number: str) -> Response:
    form = await request.form()
    try:
        photo = form.get("photo")
        content = await photo.read(MAX_PHOTO_BYTES + 1) if isinstance(photo, UploadFile) and photo.filename else b""
        rating = form_text(form, "rating")
        version = form_text(form, "version")
        act = service.Act(
            form_text(form, "do") or form_text(form, "action"),
            int(version) if version.isdigit() else None,
            form_text(form, "comment") or None,
            to_category=form_text(form, "to_category") or None,
            to_local_body=form_text(form, "to_local_body") or None,
            into=form_text(form, "into") or None,
            rating=int(rating) if rating.isdigit() else None,
            photo=check_photo(content) if content else None,
        )
        with attempt(session):
            service.act(session, who, number, act, now=utcnow())
    except Problem as exc:
        g = service.read(session, who, number) if who.kind == "citizen" else _officer_grievance(session, who, number)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return _detail(request, session, who, g, error=_message(exc), status_code=exc.status, values=values)
    finally:
        await form.close()
    return see_other(f"/my/grievances/{number}" if who.kind == "citizen" else f"/officer/grievances/{number}")


@router.post("/my/grievances/{number}")
async def citizen_act(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """Confirm, rate (a poor rating appeals to the next level) or reopen."""
    who = _citizen(request, principal)
    if isinstance(who, Response):
        return who
    return await _act(request, session, who, number)


@router.post("/grievances/{number}/me-too")
async def me_too(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = _citizen(request, principal)
    if isinstance(who, Response):
        return who
    await request.form()
    g = service.me_too(session, who, number, now=utcnow())
    return see_other(f"/grievances/public/{g.number}")


# --- officers --------------------------------------------------------------------------------------


def _officer_grievance(session: Session, who: Principal, number: str) -> Grievance:
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None or not (service.may_read(who, g) or service.acting_role(who, g) is not None):
        raise NotFound(f"no grievance {number!r} that you may see")
    return g


def _inbox_page(
    request: Request, session: Session, who: Principal, *, error: str = "", chosen: set[str] | None = None, status_code: int = 200
) -> Response:
    now = utcnow()
    found = public.search(
        session, who, local_body=None, category=None, state=None, level=None, overdue=None, limit=200, offset=0, now=now
    )
    context = {
        "grievances": found,
        "officers": service.field_officers(session, who, {g.local_body_code for g in found if g.is_open}),
        "chosen": chosen or set(),
        "error": error,
        "assigned": int(request.query_params.get("assigned", "")) if request.query_params.get("assigned", "").isdigit() else 0,
        "now": now,
        "page_title": _("Grievances"),
        "timezone": zone_of(session, who.state_code).key,
        "nav": {"inbox": who.has("applications:application:read"), "assist": False, "admin": False},
        **_names(),
    }
    return render(request, "grievances/inbox.html", context, status_code=status_code)


@router.get("/officer/grievances")
def inbox(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """The grievances of the officer's jurisdiction, open first, soonest due first; the open ones may be
    assigned to a field officer together."""
    who = _officer(request, principal)
    if isinstance(who, Response):
        return who
    return _inbox_page(request, session, who)


@router.post("/officer/grievances/bulk-assign")
async def bulk_assign(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """Assign the ticked grievances to one field officer: all or none (a refusal names the first that failed)."""
    who = _officer(request, principal)
    if isinstance(who, Response):
        return who
    form = await request.form()
    numbers = [n for n in form.getlist("numbers") if isinstance(n, str) and n]
    chosen = set(numbers)
    try:
        if not numbers or len(chosen) != len(numbers):
            raise Invalid("choose grievances", [{"loc": ["body", "numbers"], "msg": "choose grievances", "type": "missing"}])
        to_user = form_text(form, "to_user")
        if not to_user:
            raise Invalid("choose an officer", [{"loc": ["body", "to_user"], "msg": "choose an officer", "type": "missing"}])
        with attempt(session):
            service.bulk_assign(session, who, numbers, to_user, now=utcnow())
    except Problem as exc:
        return _inbox_page(request, session, who, error=_message(exc), chosen=chosen, status_code=exc.status)
    return see_other("/officer/grievances?assigned=" + str(len(numbers)))


@router.get("/officer/grievances/{number}")
def officer_detail(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = _officer(request, principal)
    if isinstance(who, Response):
        return who
    return _detail(request, session, who, _officer_grievance(session, who, number))


@router.post("/officer/grievances/{number}")
async def officer_act(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """Start, reply, resolve (with a note, and a photo where the category asks), transfer (with the reason)
    or merge into the grievance this one duplicates."""
    who = _officer(request, principal)
    if isinstance(who, Response):
        return who
    return await _act(request, session, who, number)


@router.post("/officer/grievances/{number}/triage")
async def decide_triage(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """The officer confirms or corrects the assistant's category; kept as training data."""
    who = _officer(request, principal)
    if isinstance(who, Response):
        return who
    form = await request.form()
    try:
        with attempt(session):
            assist.decide_triage(session, who, number, form_text(form, "category"), now=utcnow())
    except Problem as exc:
        g = _officer_grievance(session, who, number)
        message = "; ".join(field_errors(exc).values()) if isinstance(exc, Invalid) else exc.detail
        return _detail(request, session, who, g, error=message, status_code=exc.status)
    return see_other(f"/officer/grievances/{number}")


@router.get("/officer/grievance-triage")
def triage_queue(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """The human triage queue: open grievances the assistant was not sure about, oldest first."""
    who = _officer(request, principal)
    if isinstance(who, Response):
        return who
    found = assist.triage_queue(session, who)
    names: dict[str, Any] = {}
    for body in {g.local_body_code for g, _t in found}:
        names.update({c.code: c.definition["name"] for c in for_body(session, body)})
    context = {
        "queue": found,
        "category_names": names,
        "page_title": _("Grievances to categorise"),
        "timezone": zone_of(session, who.state_code).key,
        "nav": {"inbox": who.has("applications:application:read"), "assist": False, "admin": False},
        **_names(),
    }
    return render(request, "grievances/triage_queue.html", context)


# --- the public ------------------------------------------------------------------------------------


@router.get("/grievances/{tenant}")
def public_list(request: Request, tenant: str, session: DbSession) -> Response:
    """A local body's public grievances: what was reported, where, at which level, and how it ended."""
    now = utcnow()
    category = request.query_params.get("category") or None
    status = request.query_params.get("status") or None
    found = public.public_list(
        session, tenant, category=category, ward=None, status=status if status in ("open", "closed") else None,
        level=None, overdue=None, since=None, limit=100, offset=0, now=now,
    )  # fmt: skip
    context = {
        **_context(session, tenant),
        "grievances": found,
        "categories": for_body(session, tenant),
        "category": category,
        "status": status,
        "page_title": _("Public grievances"),
    }
    return render(request, "grievances/public.html", context)


@router.get("/grievances/public/{number}")
def public_one(request: Request, number: str, session: DbSession) -> Response:
    g = public.public_get(session, number)
    context = {
        **_context(session, g.local_body_code),
        "g": public.public_out(session, g, utcnow()),
        "page_title": _("Grievance %(number)s") % {"number": g.number},
    }
    return render(request, "grievances/public_one.html", context)

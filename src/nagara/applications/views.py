"""The citizen's application pages: the form generated from the service's JSON Schema and UI
hints, drafts, documents, review and submit, tracking, actions (appeal, withdraw, resubmit),
my applications.

Every page calls the same service functions as the API (``applications.service``); the
form is validated by ``catalog.forms`` in the page's language.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile

from nagara.applications import acknowledgement, service
from nagara.applications.api import MAX_UPLOAD
from nagara.applications.data import unseal_data
from nagara.applications.documents import required_codes
from nagara.applications.models import Application, Document
from nagara.catalog import fees, notices
from nagara.catalog import service as catalog
from nagara.catalog.definitions import APPLICANT, DRAFT, Service
from nagara.catalog.forms import form_errors
from nagara.catalog.rules import all_hold
from nagara.catalog.views import role_names
from nagara.identity import service as identity
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound, Problem, TooManyRequests
from nagara.runtime import runtime_of
from nagara.tenancy.context import LocalBodyInfo, body_place, zone_of
from nagara.web import csrf
from nagara.web.i18n import N_, current_language, direction
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, see_other
from nagara.web.templating import environment, format_rupees, localised, render
from nagara.workflow import engine

router = APIRouter(include_in_schema=False)

# Names of the built-in steps and actions (the packs name their own).
BUILT_IN_NAMES = {
    "draft": N_("Draft"),
    "submit": N_("Submitted"),
    "appeal": N_("Appeal"),
    "first_appeal": N_("First appeal"),
    "second_appeal": N_("Second appeal"),
    "allow_appeal": N_("Appeal allowed"),
    "dismiss_appeal": N_("Appeal dismissed"),
    "appeal_dismissed": N_("Appeal dismissed"),
    "escalate": N_("Escalated: the time limit passed"),
    "applicant": N_("You"),
    "fee_paid": N_("Fee paid"),
    "system": N_("System"),
    "form_corrected": N_("Details corrected"),
    "document_added": N_("Document added"),
    "document_replaced": N_("Document replaced"),
    "document_removed": N_("Document removed"),
}
# What the timeline says of a paid fee: the receipt and the amount, in the page's language
# (the stored comment is the English record of the step).
FEE_PAID_NOTE = N_("Receipt %(number)s, %(amount)s")


def step_note(action: str, comment: str | None, data: dict[str, Any] | None) -> str | None:
    """The note shown under a timeline step: the person's comment, or what the system recorded, translated."""
    if action == "fee_paid" and data and "receipt" in data and "amount" in data:
        return _(FEE_PAID_NOTE) % {"number": data["receipt"], "amount": format_rupees(int(data["amount"]))}
    return comment


def actor_name(role: str, roles: dict[str, dict[str, str]]) -> str:
    """Who took a step, in the page's language: you, a role of the pack, or the system."""
    if role in BUILT_IN_NAMES:
        return _(BUILT_IN_NAMES[role])
    return localised(roles.get(role)) or role


def citizen(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthenticated("sign in to apply")
    return principal


def _timezone(session: DbSession, state_code: str | None) -> str:
    return zone_of(session, state_code).key


# --- the form, generated from the schema and the UI hints ------------------------------------


@dataclass
class Field:
    name: str
    label: str
    help: str
    widget: str
    required: bool
    value: Any
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    show_if: list[dict[str, Any]] | None = None

    @property
    def show_if_json(self) -> str:
        return json.dumps(self.show_if or [], ensure_ascii=False)


def _widget(prop: dict[str, Any], ui: dict[str, Any]) -> str:
    if ui.get("widget"):
        return str(ui["widget"])
    if prop.get("type") == "boolean":
        return "checkbox"
    if "enum" in prop:
        return "radio" if len(prop["enum"]) <= 4 else "select"
    if prop.get("type") in ("integer", "number"):
        return "number"
    if prop.get("format") == "date":
        return "date"
    if prop.get("format") == "email":
        return "email"
    return "text"


def form_fields(svc: Service, data: dict[str, Any]) -> list[Field]:
    form = svc.definition["form"]
    schema = form["schema"]
    ui = form.get("ui", {})
    props: dict[str, Any] = schema.get("properties", {})
    order = [n for n in ui.get("order", []) if n in props] + [n for n in props if n not in ui.get("order", [])]
    required = set(schema.get("required", []))
    fields = []
    for name in order:
        prop = props[name]
        hints = ui.get("fields", {}).get(name, {})
        widget = _widget(prop, hints)
        options = [(str(v), localised(hints.get("options", {}).get(str(v))) or str(v)) for v in prop.get("enum", [])]
        attrs: dict[str, Any] = {}
        for key, attr in (("minimum", "min"), ("maximum", "max"), ("maxLength", "maxlength")):
            if key in prop:
                attrs[attr] = prop[key]
        if prop.get("type") == "number":
            attrs["step"] = "any"
        fields.append(
            Field(
                name=name,
                label=localised(hints.get("label")) or name.replace("_", " ").capitalize(),
                help=localised(hints.get("help")),
                widget=widget,
                required=name in required,
                value=data.get(name),
                options=options,
                attrs=attrs,
                show_if=hints.get("show_if"),
            )
        )
    return fields


def read_form(svc: Service, form: FormData) -> dict[str, Any]:
    """The posted fields as JSON values of the schema's types; empty fields are left out.

    A value that does not parse is kept as text, so that the schema reports it in the
    person's language ("expected integer"), instead of being silently dropped.
    """
    props: dict[str, Any] = svc.definition["form"]["schema"].get("properties", {})
    return without_inapplicable(svc, read_values(props, form))


def read_values(props: dict[str, Any], form: FormData) -> dict[str, Any]:
    """The posted values of the fields ``props`` describes (see :func:`read_form`)."""
    data: dict[str, Any] = {}
    for name, prop in props.items():
        kind = prop.get("type")
        if kind == "boolean":
            if name in form or f"{name}__present" in form:
                data[name] = form.get(name) in ("true", "on", "1")
            continue
        raw = form_text(form, name)
        if raw == "":
            continue
        value: Any = raw
        if kind == "integer":
            try:
                value = int(raw.replace(",", ""))
            except ValueError:
                value = raw
        elif kind == "number":
            try:
                value = float(raw.replace(",", ""))
            except ValueError:
                value = raw
        data[name] = value
    return data


def without_inapplicable(svc: Service, data: dict[str, Any], among: set[str] | None = None) -> dict[str, Any]:
    """Drop answers to questions that do not apply (their show_if does not hold), of ``among`` if given."""
    hints = svc.definition["form"].get("ui", {}).get("fields", {})
    today = utcnow().date()
    for name, hint in hints.items():
        if among is not None and name not in among:
            continue
        if hint.get("show_if") and name in data and not all_hold(hint["show_if"], data, today):
            del data[name]
    return data


def _form_page(
    request: Request,
    svc: Service,
    body: LocalBodyInfo,
    *,
    data: dict[str, Any],
    errors: dict[str, str],
    app: Application | None,
    notice: str = "",
    status_code: int = 200,
    privacy: dict[str, Any] | None = None,
) -> Response:
    fields = form_fields(svc, data)
    order = {f.name: i for i, f in enumerate(fields)}
    errors = dict(sorted(errors.items(), key=lambda kv: order.get(kv[0].split(".", 1)[0], len(order))))
    context = {
        "page_title": localised(svc.definition["name"]),
        "svc": svc,
        "body": body,
        "app": app,
        "fields": fields,
        "labels": {f.name: f.label for f in fields},
        "errors": errors,
        "notice": notice,
        "action": f"/applications/{app.number}/edit" if app else f"/apply/{body.code}/{svc.code}",
        "step": 1,
        **(privacy or {}),
    }
    return render(request, "applications/form.html", context, status_code=status_code)


def _privacy_notice(session: DbSession, principal: Principal, svc: Service) -> dict[str, Any]:
    """The service's privacy notice, open above the form until the citizen first applies for it."""
    return {
        "privacy_notice": notices.notice(session, svc),
        "privacy_notice_open": service.first_use(session, principal.user_id, svc.code),
        "retention_classes": notices.RETENTION,
        "legal_basis": notices.BASIS_LEGITIMATE_USE,
        "board_url": notices.BOARD_URL,
    }


def _body(session: DbSession, code: str) -> LocalBodyInfo:
    try:
        return body_place(session, code).body
    except NotFound:
        raise Invalid(
            "unknown local body", [{"loc": ["path", "tenant"], "msg": f"no local body {code!r}", "type": "value_error"}]
        ) from None


@router.get("/apply/{tenant}/{code}")
def new_application(request: Request, tenant: str, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = citizen(principal)
    svc = catalog.get_service(session, tenant, code)
    privacy = _privacy_notice(session, who, svc)
    return _form_page(request, svc, _body(session, tenant), data={}, errors={}, app=None, privacy=privacy)


def friendly(errors: list[dict[str, Any]], svc: Service) -> dict[str, str]:
    """The schema's messages per field, with the ones that name JSON types said plainly."""
    props = svc.definition["form"]["schema"].get("properties", {})
    out: dict[str, str] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "data")]
        name = ".".join(loc) or "_"
        prop = props.get(loc[0], {}) if loc else {}
        kind = err.get("type")
        message = str(err.get("msg", ""))
        if kind == "type" and prop.get("type") == "integer":
            message = _("Enter a whole number, such as 12.")
        elif kind == "type" and prop.get("type") == "number":
            message = _("Enter a number.")
        elif kind == "enum":
            message = _("Choose one of the options.")
        elif kind == "format" and prop.get("format") == "date":
            message = _("Enter a date.")
        out.setdefault(name, message)
    return out


def _complete_errors(svc: Service, data: dict[str, Any]) -> dict[str, str]:
    return friendly(form_errors(svc.definition["form"]["schema"], data, current_language()), svc)


@router.post("/apply/{tenant}/{code}")
async def start_application(request: Request, tenant: str, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    """Save the first answers as a draft (what is there must be valid), then go on."""
    who = citizen(principal)
    svc = catalog.get_service(session, tenant, code)
    body = _body(session, tenant)
    form = await request.form()
    data = read_form(svc, form)
    try:
        with attempt(session):
            app = service.create(
                session, who, tenant=tenant, service_code=code, data=data, submit=False, language=current_language()
            )
    except Invalid as exc:
        errors = friendly(exc.extra["errors"], svc)
        privacy = _privacy_notice(session, who, svc)
        return _form_page(request, svc, body, data=data, errors=errors, app=None, status_code=422, privacy=privacy)
    return _after_save(request, svc, body, app, data, form_text(form, "intent"))


def _after_save(
    request: Request, svc: Service, body: LocalBodyInfo, app: Application, data: dict[str, Any], intent: str
) -> Response:
    if intent == "continue":
        errors = _complete_errors(svc, data)
        if errors:
            notice = _("Your draft is saved. Some answers are still needed before you can go on.")
            return _form_page(request, svc, body, data=data, errors=errors, app=app, notice=notice, status_code=422)
        return see_other(f"/applications/{app.number}/documents")
    return see_other(f"/applications/{app.number}/edit?saved=1")


def _own_draft(session: DbSession, principal: Principal, number: str) -> tuple[Application, Service]:
    app = service.get(session, principal, number)
    if APPLICANT not in engine.roles_here(principal, app):
        raise Forbidden("only the applicant may change this application")
    return app, service.service_for(session, app)


@router.get("/applications/{number}/edit")
def edit_draft(request: Request, number: str, session: DbSession, principal: PagePrincipal, saved: int = 0) -> Response:
    app, svc = _own_draft(session, citizen(principal), number)
    if app.state != DRAFT:
        return see_other(f"/applications/{number}")
    notice = _("Your draft is saved. You can come back to it from My applications.") if saved else ""
    data = unseal_data(app)
    return _form_page(request, svc, _body(session, app.local_body_code), data=data, errors={}, app=app, notice=notice)


@router.post("/applications/{number}/edit")
async def save_draft(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = citizen(principal)
    app, svc = _own_draft(session, who, number)
    body = _body(session, app.local_body_code)
    form = await request.form()
    data = read_form(svc, form)
    try:
        with attempt(session):
            service.update_draft(session, who, number, data, app.version, current_language())
    except Invalid as exc:
        return _form_page(request, svc, body, data=data, errors=friendly(exc.extra["errors"], svc), app=app, status_code=422)
    return _after_save(request, svc, body, app, data, form_text(form, "intent"))


# --- documents ---------------------------------------------------------------------------------


def _documents_context(session: DbSession, app: Application, svc: Service) -> dict[str, Any]:
    data = unseal_data(app)
    needed = set(required_codes(svc, data, utcnow().date()))
    uploaded = service.documents(session, app)
    asked = service.correction(session, app)
    by_type: dict[str, list[Document]] = {}
    for doc in uploaded:
        by_type.setdefault(doc.doc_type, []).append(doc)
    rows = [
        {
            "code": d["code"],
            "name": localised(d["name"]),
            "required": d["code"] in needed,
            "max_bytes": d["max_bytes"],
            "media_types": d["media_types"],
            "accept": ",".join(d["media_types"]),
            "files": by_type.get(d["code"], []),
        }
        for d in svc.definition.get("documents", [])
        if asked is None or d["code"] in asked.documents
    ]
    missing = [r for r in rows if r["required"] and not r["files"]]
    return {
        "rows": rows,
        "missing": missing,
        "app": app,
        "svc": svc,
        "page_title": _("Documents"),
        "asked": asked,
        # a draft's documents, or those the office asked to correct, can be taken away
        "removable": app.state == DRAFT or asked is not None,
    }


@router.get("/applications/{number}/documents")
def documents_page(
    request: Request, number: str, session: DbSession, principal: PagePrincipal, uploaded: str = "", removed: int = 0
) -> Response:
    app, svc = _own_draft(session, citizen(principal), number)
    context = _documents_context(session, app, svc)
    notice = _("The file is uploaded.") if uploaded else _("The document is removed.") if removed else ""
    context.update(errors={}, notice=notice, step=2)
    return render(request, "applications/documents.html", context)


@router.post("/applications/{number}/documents")
async def upload_document(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = citizen(principal)
    app, svc = _own_draft(session, who, number)
    form = await request.form()
    try:
        error = await _store_upload(session, who, number, svc, form)
    finally:
        await form.close()  # the uploaded file's temporary file
    doc_type = form_text(form, "type")
    if not error:
        return see_other(f"/applications/{number}/documents?uploaded={doc_type}")
    context = _documents_context(session, app, svc)
    context.update(errors={f"file-{doc_type}": error}, notice="", step=2)
    return render(request, "applications/documents.html", context, status_code=422)


@router.post("/applications/{number}/documents/{doc_id}/remove")
async def remove_document(request: Request, number: str, doc_id: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = citizen(principal)
    app, svc = _own_draft(session, who, number)
    form = await request.form()
    try:
        version = int(form_text(form, "version") or 0)
        with attempt(session):
            service.remove_document(session, who, number, doc_id, version=version)
    except (Problem, ValueError) as exc:
        context = _documents_context(session, app, svc)
        message = (
            _("This document cannot be removed now.")
            if isinstance(exc, Invalid | Forbidden | Conflict)
            else _("This application changed meanwhile. Check it again.")
        )
        context.update(errors={"_": message}, notice="", step=2)
        return render(request, "applications/documents.html", context, status_code=422)
    return see_other(f"/applications/{number}/documents?removed=1")


async def _store_upload(session: DbSession, who: Principal, number: str, svc: Service, form: FormData) -> str:
    """Store the posted file; the message to show when it cannot be, else ''."""
    doc_type = form_text(form, "type")
    upload = form.get("file")
    error = ""
    if not isinstance(upload, UploadFile) or not upload.filename:
        error = _("Choose a file to upload.")
    else:
        content = await upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            error = _("The file is too large.")
        else:
            try:
                with attempt(session):
                    service.upload(
                        session,
                        who,
                        number,
                        doc_type=doc_type,
                        filename=upload.filename,
                        declared=upload.content_type,
                        content=content,
                    )
            except Invalid as exc:
                error = _upload_message(exc, svc, doc_type)
    return error


def _upload_message(exc: Invalid, svc: Service, doc_type: str) -> str:
    rule = next((d for d in svc.definition.get("documents", []) if d["code"] == doc_type), None)
    if rule is None:
        return _("This application does not take that document.")
    kinds = {e.get("type") for e in exc.extra.get("errors", [])}
    if "not_asked" in kinds:
        return _("The office did not ask you to correct this document.")
    if "too_large" in kinds or any("bytes" in str(e.get("msg")) for e in exc.extra.get("errors", [])):
        return _("The file is too large: at most %(size)s MB.") % {"size": round(rule["max_bytes"] / 1048576, 1)}
    return _("This file's type is not accepted. Upload a PDF, JPEG or PNG file.")


# --- review and submit ---------------------------------------------------------------------------


def _review_context(session: DbSession, app: Application, svc: Service) -> dict[str, Any]:
    data = unseal_data(app)
    # what the draft would pay if submitted today (in the state's time zone), every item with why
    fee = fees.preview(svc.definition, data, fees.fee_day(session, app.local_body_code, utcnow()))
    fields = [f for f in form_fields(svc, data) if f.name in data]
    for f in fields:
        if f.options:
            f.value = dict(f.options).get(str(f.value), f.value)
        elif f.widget == "checkbox":
            f.value = _("Yes") if f.value else _("No")
        elif f.widget == "date" and isinstance(f.value, str):
            with contextlib.suppress(ValueError):
                f.value = date.fromisoformat(f.value)
    context = _documents_context(session, app, svc)
    every = form_fields(svc, data)
    context.update(
        labels={f.name: f.label for f in every},
        # The answers are changed on the form: the error summary's links go there.
        targets={f.name: f"/applications/{app.number}/edit#f-{f.name}" for f in every},
        fields=fields,
        fee=fee,
        page_title=_("Check and submit"),
        step=3,
        timezone=_timezone(session, app.state_code),
    )
    return context


@router.get("/applications/{number}/review")
def review(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    app, svc = _own_draft(session, citizen(principal), number)
    if app.state != DRAFT:
        return see_other(f"/applications/{number}")
    context = _review_context(session, app, svc)
    context.update(errors=_complete_errors(svc, unseal_data(app)))
    return render(request, "applications/review.html", context)


@router.post("/applications/{number}/submit")
async def submit(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    who = citizen(principal)
    app, svc = _own_draft(session, who, number)
    form = await request.form()
    try:
        version = int(form_text(form, "version") or app.version)
        with attempt(session):
            service.act(session, who, number, action="submit", comment=None, version=version)
    except (Problem, ValueError) as exc:
        context = _review_context(session, app, svc)
        errors = (
            field_errors(exc) if isinstance(exc, Invalid) else {"_": _("This application changed meanwhile. Check it again.")}
        )
        for key in list(errors):
            if key.startswith("documents."):
                code = key.split(".", 1)[1]
                name = next((r["name"] for r in context["rows"] if r["code"] == code), code)
                errors[key] = _("Upload this document: %(name)s") % {"name": name}
        context.update(errors=errors)
        return render(request, "applications/review.html", context, status_code=422)
    return see_other(f"/applications/{number}?submitted=1")


# --- correcting a returned application -----------------------------------------------------------


def _correction_page(
    request: Request,
    session: DbSession,
    app: Application,
    svc: Service,
    asked: service.Correction,
    data: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    every = form_fields(svc, data)
    fields = [f for f in every if f.name in asked.fields]
    for f in fields:
        f.show_if = None  # the questions it depends on may not be on this page; what applies is checked on saving
    context = {
        "page_title": _("Correct your details"),
        "svc": svc,
        "body": _body(session, app.local_body_code),
        "app": app,
        "fields": fields,
        "labels": {f.name: f.label for f in every},
        "errors": errors,
        "notice": "",
        "action": f"/applications/{app.number}/correct",
        "correcting": True,
        "reason": asked.reason,
    }
    return render(request, "applications/form.html", context, status_code=status_code)


def _returned(session: DbSession, principal: Principal, number: str) -> tuple[Application, Service, service.Correction | None]:
    app, svc = _own_draft(session, principal, number)
    return app, svc, service.correction(session, app)


@router.get("/applications/{number}/correct")
def correction_form(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    app, svc, asked = _returned(session, citizen(principal), number)
    if asked is None or not asked.fields:
        return see_other(f"/applications/{number}")
    return _correction_page(request, session, app, svc, asked, unseal_data(app), {})


@router.post("/applications/{number}/correct")
async def save_correction(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """The fields the office asked to correct, posted; the other answers stay as they are."""
    who = citizen(principal)
    app, svc, asked = _returned(session, who, number)
    if asked is None:
        return see_other(f"/applications/{number}")
    form = await request.form()
    props: dict[str, Any] = svc.definition["form"]["schema"].get("properties", {})
    named = {name: prop for name, prop in props.items() if name in asked.fields}
    data = {k: v for k, v in unseal_data(app).items() if k not in named}
    data.update(read_values(named, form))
    data = without_inapplicable(svc, data, set(named))
    try:
        version = int(form_text(form, "version") or 0)
        with attempt(session):
            service.update_draft(session, who, number, data, version, current_language())
    except Invalid as exc:
        return _correction_page(request, session, app, svc, asked, data, friendly(exc.extra["errors"], svc), 422)
    except (Problem, ValueError):
        errors = {"_": _("This application changed meanwhile. Check it again.")}
        return _correction_page(request, session, app, svc, asked, data, errors, 422)
    return see_other(f"/applications/{number}?corrected=1")


# --- tracking and actions ------------------------------------------------------------------------


def state_name(svc: Service, state: str) -> str:
    if state in BUILT_IN_NAMES and state not in svc.workflow["states"]:
        return _(BUILT_IN_NAMES[state])
    return localised(svc.state(state).get("name")) or state


def action_name(svc: Service, code: str) -> str:
    named = next((a for a in svc.actions() if a["code"] == code), None)
    if named is not None:
        return localised(named["name"])
    return _(BUILT_IN_NAMES[code]) if code in BUILT_IN_NAMES else code.replace("_", " ").capitalize()


def holder_name(session: DbSession, app: Application) -> str:
    if not app.is_open or not app.assigned_role:
        return ""
    if app.assigned_role == APPLICANT:
        return _(BUILT_IN_NAMES["applicant"])
    names = role_names(session, app.state_code)
    return localised(names.get(app.assigned_role)) or app.assigned_role


def certificate_available(svc: Service, app: Application) -> bool:
    return app.outcome == "approved" and bool(svc.definition.get("output"))


def payment_due(app: Application) -> bool:
    return app.submitted_at is not None and app.fee_total > 0 and not app.fee_paid and app.outcome != "withdrawn"


def correction_note(svc: Service, action: str, data: dict[str, Any] | None) -> str | None:
    """What a correction step changed, by name: the fields' labels or the document's name (never the values)."""
    if not data:
        return None
    if action == service.FORM_CORRECTED:
        labels = {f.name: f.label for f in form_fields(svc, {})}
        return ", ".join(labels.get(name, name) for name in data.get("fields", {}))
    if action in (service.DOCUMENT_ADDED, service.DOCUMENT_REPLACED, service.DOCUMENT_REMOVED):
        names = {d["code"]: localised(d["name"]) for d in svc.definition.get("documents", [])}
        return names.get(str(data.get("type")), str(data.get("type")))
    return None


def _correction_context(session: DbSession, app: Application, svc: Service, principal: Principal, steps: list[Any]) -> Any:
    """What the office asked to correct, named in the page's language (None unless the application is returned)."""
    asked = service.correction(session, app, steps)
    if asked is None or APPLICANT not in engine.roles_here(principal, app):
        return None
    labels = {f.name: f.label for f in form_fields(svc, {})}
    names = {d["code"]: localised(d["name"]) for d in svc.definition.get("documents", [])}
    return {
        "reason": asked.reason,
        "fields": [labels.get(name, name) for name in asked.fields],
        "documents": [names.get(code, code) for code in asked.documents],
        "all_fields": set(asked.fields) == set(labels),
    }


def _track_context(session: DbSession, app: Application, svc: Service, principal: Principal) -> dict[str, Any]:
    now = utcnow()
    roles = role_names(session, app.state_code)
    steps = []
    history = service.history(session, app)
    for h in history:
        steps.append(
            {
                "at": h.at,
                "action": action_name(svc, h.action),
                "to": state_name(svc, h.to_state),
                "by": actor_name(h.actor_role, roles),
                "comment": correction_note(svc, h.action, h.data) or step_note(h.action, h.comment, h.data),
            }
        )
    actions = engine.allowed_actions(svc, app, principal, now) if app.submitted_at else []
    applicant_actions = [
        {"code": a["code"], "name": action_name(svc, a["code"]), "comment_required": bool(a.get("comment_required"))}
        for a in actions
        if APPLICANT in a["roles"]
    ]
    return {
        "page_title": _("Application %(number)s") % {"number": app.number},
        "app": app,
        "svc": svc,
        "service_name": localised(svc.definition["name"]),
        "body": body_place(session, app.local_body_code).body,
        "state_name": state_name(svc, app.state),
        "holder": holder_name(session, app),
        "steps": steps,
        "overdue": bool(app.is_open and app.state_due_at and app.state_due_at < now),
        "actions": applicant_actions,
        "your_turn": app.is_open and app.assigned_role == APPLICANT and app.submitted_at is not None,
        "correction": _correction_context(session, app, svc, principal, history),
        "pay": payment_due(app),
        "certificate": certificate_available(svc, app),
        "documents": service.documents(session, app),
        "doc_names": {d["code"]: localised(d["name"]) for d in svc.definition.get("documents", [])},
        "timezone": _timezone(session, app.state_code),
        "errors": {},
        "labels": {},
        "targets": {},
        "status_code": acknowledgement.status_code(runtime_of(session).secret, app.number) if app.submitted_at else "",
    }


@router.get("/applications/{number}")
def track(
    request: Request,
    number: str,
    session: DbSession,
    principal: PagePrincipal,
    submitted: int = 0,
    done: str = "",
    corrected: int = 0,
) -> Response:
    who = citizen(principal)
    app = service.get(session, who, number)
    if app.state == DRAFT and APPLICANT in engine.roles_here(who, app):
        return see_other(f"/applications/{number}/edit")
    context = _track_context(session, app, service.service_for(session, app), who)
    if submitted:
        context["notice"] = _("Your application is submitted. Its number is %(number)s. Keep it to follow the application.") % {
            "number": app.number
        }
    elif done:
        context["notice"] = _("Done: %(action)s") % {"action": action_name(context["svc"], done)}
    elif corrected:
        context["notice"] = _("Your corrections are saved. Resubmit the application when everything is corrected.")
    return render(request, "applications/track.html", context)


@router.post("/applications/{number}/act")
async def act(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """The applicant's own actions on the track page: appeal, withdraw, resubmit."""
    who = citizen(principal)
    app = service.get(session, who, number)
    svc = service.service_for(session, app)
    form = await request.form()
    code = form_text(form, "action")
    comment = form_text(form, "comment") or None
    errors: dict[str, str] = {}
    allowed = {a["code"]: a for a in engine.allowed_actions(svc, app, who, utcnow()) if APPLICANT in a["roles"]}
    if code not in allowed:
        errors["_"] = _("This cannot be done now. The page shows what you can do.")
    elif allowed[code].get("comment_required") and not comment:
        errors[f"comment-{code}"] = _("Write the reason.")
    else:
        try:
            version = int(form_text(form, "version") or 0)
            with attempt(session):
                service.act(session, who, number, action=code, comment=comment, version=version)
        except Invalid as exc:  # resubmitting checks the whole application again
            errors.update(friendly(exc.extra["errors"], svc))
        except (Problem, ValueError):
            errors["_"] = _("This application changed meanwhile. Check it again.")
    if not errors:
        return see_other(f"/applications/{number}?done={code}")
    context = _track_context(session, app, svc, who)
    labels = {f.name: f.label for f in form_fields(svc, {})}
    targets: dict[str, str] = {}
    for key in list(errors):
        if key.startswith("documents."):
            doc = key.split(".", 1)[1]
            errors[key] = _("Upload this document first: %(name)s") % {"name": context["doc_names"].get(doc, doc)}
            targets[key] = f"/applications/{number}/documents#f-file-{doc}"
        elif key.split(".", 1)[0] in labels:
            targets[key] = f"/applications/{number}/correct#f-{key.split('.', 1)[0]}"
    context.update(errors=errors, labels=labels, targets=targets)
    return render(request, "applications/track.html", context, status_code=422)


@router.get("/my/applications")
def my_applications(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    who = citizen(principal)
    apps = service.search(session, who, service.InboxFilter(), limit=200)
    rows = []
    for app in apps:
        svc = service.service_for(session, app)
        rows.append(
            {
                "app": app,
                "service": localised(svc.definition["name"]),
                "state": state_name(svc, app.state),
                "pay": payment_due(app),
                "certificate": certificate_available(svc, app),
                "href": f"/applications/{app.number}" + ("/edit" if app.state == DRAFT else ""),
            }
        )
    timezone = _timezone(session, who.state_code)
    return render(request, "applications/mine.html", {"page_title": _("My applications"), "rows": rows, "timezone": timezone})


def applicant_data(session: DbSession, principal: Principal) -> list[dict[str, Any]]:
    """The citizen's applications with their answers, for "my data"."""
    out = []
    for app in session.scalars(select(Application).where(Application.applicant_id == principal.user_id)):
        out.append(
            {
                "number": app.number,
                "service": app.service_code,
                "local_body": app.local_body_code,
                "state": app.state,
                "outcome": app.outcome,
                "created_at": app.created_at.isoformat(),
                "submitted_at": app.submitted_at.isoformat() if app.submitted_at else None,
                "data": unseal_data(app),
                "documents": [
                    {"type": d.doc_type, "filename": d.filename, "size": d.size, "sha256": d.sha256}
                    for d in service.documents(session, app)
                ],
            }
        )
    return out


@router.get("/my/data.json")
def my_data(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """Everything the platform holds about the signed-in citizen, as one JSON download."""

    who = citizen(principal)
    profile = identity.describe(session, identity.get_user(session, who, who.user_id))
    body = json.dumps(
        {"profile": profile, "applications": applicant_data(session, who)}, ensure_ascii=False, indent=2, default=str
    )
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-nagara-data.json"', "Cache-Control": "private, no-store"},
    )


# --- the acknowledgement slip and the public status ----------------------------------------------


def _slip_context(session: DbSession, request: Request, app: Application) -> dict[str, Any]:
    slip = acknowledgement.slip(session, app)
    return {
        "page_title": _("Acknowledgement of application %(number)s") % {"number": app.number},
        "slip": slip,
        "service_name": localised(slip.service),
        "body_name": localised(slip.local_body),
        "status_url": str(request.base_url).rstrip("/") + "/status",
        "timezone": slip.timezone,
    }


@router.get("/applications/{number}/acknowledgement")
def acknowledgement_page(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """The acknowledgement the Right to Service Acts require: number, documents received, decision due by."""
    app = service.get(session, citizen(principal), number)
    return render(request, "applications/acknowledgement.html", _slip_context(session, request, app))


@router.get("/applications/{number}/acknowledgement.pdf")
def acknowledgement_pdf(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    app = service.get(session, citizen(principal), number)
    context = _slip_context(session, request, app)
    html = (
        environment()
        .get_template("applications/acknowledgement_pdf.html")
        .render(lang=current_language(), dir=direction(), font_faces=acknowledgement.font_faces(), **context)
    )
    return Response(
        acknowledgement.render_pdf(html),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="acknowledgement-{app.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


def _status_form(request: Request, values: dict[str, str], errors: dict[str, str], status_code: int) -> Response:
    context = {"page_title": _("Check the status of an application"), "values": values, "errors": errors}
    return render(request, "applications/status.html", context, status_code=status_code)


@router.get("/status")
def status_form(request: Request, number: str = "", code: str = "") -> Response:
    """The public status lookup: the application number and the status code from the acknowledgement."""
    return _status_form(request, {"number": number, "code": code}, {}, 200)


@router.post("/status")
async def status_result(request: Request, session: DbSession) -> Response:
    form = await request.form()
    csrf.check_anonymous(request, form.get(csrf.FIELD))
    values = {"number": form_text(form, "number"), "code": form_text(form, "code")}
    errors: dict[str, str] = {}
    if not values["number"]:
        errors["number"] = _("Enter the application number.")
    if not values["code"]:
        errors["code"] = _("Enter the status code printed on the acknowledgement.")
    if errors:
        return _status_form(request, values, errors, 422)
    address = request.client.host if request.client else None
    try:
        with attempt(session):
            app = acknowledgement.lookup(session, number=values["number"], code=values["code"], address=address)
    except TooManyRequests as exc:
        message = _("Too many wrong numbers or codes were tried from this network. Try again in an hour.")
        response = _status_form(request, values, {"_": message}, 429)
        response.headers.update(exc.headers)
        return response
    except NotFound:
        message = _("No submitted application has this number and status code. Check both on the acknowledgement.")
        return _status_form(request, values, {"number": message}, 404)
    svc = service.service_for(session, app)
    now = utcnow()
    context = {
        "page_title": _("Status of application %(number)s") % {"number": app.number},
        # Only what the public may know: no name, no answers, no documents, no comments.
        "public": {
            "number": app.number,
            "service": localised(svc.definition["name"]),
            "body": localised(body_place(session, app.local_body_code).body.name),
            "state": state_name(svc, app.state),
            "outcome": app.outcome,
            "is_open": app.is_open,
            "submitted_at": app.submitted_at,
            "decide_by": app.service_due_at,
            "decided_at": app.decided_at,
            "overdue": bool(app.is_open and app.service_due_at and app.service_due_at < now),
        },
        "timezone": _timezone(session, app.state_code),
    }
    return render(request, "applications/status_result.html", context, headers={"Cache-Control": "no-store"})

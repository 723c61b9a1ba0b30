"""The officer workbench: the inbox, one application, its actions, bulk actions, what falls due."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nagara.applications import export, service
from nagara.applications.data import unseal_data
from nagara.applications.models import Application
from nagara.applications.views import correction_note, step_note
from nagara.audit import access
from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.identity.models import User
from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid, NotFound, Problem
from nagara.kit.text import strip_bidi
from nagara.officer.common import (
    WORKBENCH,
    as_aware,
    built_in_name,
    form_rows,
    officer_or_redirect,
    page,
    role_names,
    state_name,
)
from nagara.runtime import runtime_of
from nagara.tenancy.context import body_place
from nagara.web.i18n import N_, current_language
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, see_other
from nagara.workflow import engine

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
DUE_CHOICES = {
    "overdue": N_("Overdue"),
    "today": N_("Due today"),
    "tomorrow": N_("Due tomorrow"),
    "this_week": N_("Due later this week"),
}
# A PDF or an image shown inside the workbench page: framed by our own pages only, running nothing.
APPLICANT_MOBILE = "applicant-mobile"
REASON_MIN = 10
DOCUMENT_CSP = "default-src 'none'; img-src 'self'; frame-ancestors 'self'; base-uri 'none'"


def _services_of(session: DbSession, apps: list[Application]) -> dict[str, Service]:
    """Each application's service definition, its places and versions read in one query each."""
    return service.services_for(session, apps)


def _row(session: DbSession, app: Application, roles: dict[str, dict[str, str]], svc: Service | None = None) -> dict[str, Any]:
    svc = svc or service.service_for(session, app)
    due = as_aware(app.state_due_at)
    return {
        "number": app.number,
        "version": app.version,
        "service": svc.definition["name"],
        "service_code": app.service_code,
        "local_body": app.local_body_code,
        "state": state_name(svc, app.state),
        "due": due,
        "overdue": bool(app.is_open and due is not None and due < utcnow()),
        "held_by": roles.get(app.assigned_role or "", app.assigned_role or ""),
        "submitted_at": as_aware(app.submitted_at),
    }


def _filter_options(session: DbSession, principal: Principal) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Services of the officer's state, and every state of their workflows (for the filter)."""
    services: list[dict[str, Any]] = []
    states: dict[str, Any] = {}
    if principal.state_code:
        for svc in catalog.list_services(session, principal.state_code):
            services.append({"code": svc.code, "name": svc.definition["name"]})
            for code, st in svc.workflow["states"].items():
                if not st.get("final"):
                    states.setdefault(code, st.get("name") or code)
    return services, [{"code": c, "name": n} for c, n in states.items()]


def _inbox_filter(session: DbSession, principal: Principal, params: dict[str, str]) -> service.InboxFilter:
    due = params.get("due", "")
    overdue = {"yes": True, "no": False}.get(params.get("overdue", ""))
    due_after = due_before = None
    if due in DUE_CHOICES and due != "overdue":
        start, end = service.due_windows(session, principal, utcnow()).bounds[due]
        due_after, due_before = start, end - timedelta(microseconds=1)
    elif due == "overdue":
        overdue = True
    return service.InboxFilter(
        service=params.get("service") or None,
        state=params.get("state") or None,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
    )


def _inbox(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    refused: list[dict[str, Any]] | None = None,
    bulk_values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in ("service", "state", "due", "overdue", "page")}
    try:
        number = max(1, int(params.get("page", "1")))
    except ValueError:
        number = 1
    f = _inbox_filter(session, principal, params)
    work = service.inbox(session, principal, f, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    roles = role_names(session, principal.state_code)
    shown = work[:PAGE_SIZE]
    services = _services_of(session, shown)
    rows = [_row(session, a, roles, services[a.id]) for a in shown]
    actions: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for app in shown:
        for action in engine.allowed_actions(services[app.id], app, principal, now):
            if action["code"] in ("submit", "appeal"):
                continue
            entry = actions.setdefault(action["code"], {"code": action["code"], "name": action["name"], "count": 0})
            entry["comment_required"] = entry.get("comment_required", False) or bool(action.get("comment_required"))
            entry["count"] += 1
    service_choices, states = _filter_options(session, principal)
    kept = {k: v for k, v in params.items() if k != "page" and v}

    def page_url(n: int) -> str:
        return f"{WORKBENCH}?" + urlencode({**kept, "page": str(n)})

    done = request.query_params.get("done")
    context = {
        "page_title": _("Inbox"),
        "csv_url": f"{WORKBENCH}/inbox.csv" + (f"?{urlencode(kept)}" if kept else ""),
        "htmx": True,  # the filters update the list in place
        "rows": rows,
        "params": params,
        "services": service_choices,
        "states": states,
        "due_choices": DUE_CHOICES,
        "bulk_actions": list(actions.values()),
        "page_number": number,
        "previous_url": page_url(number - 1) if number > 1 else None,
        "next_url": page_url(number + 1) if len(work) > PAGE_SIZE else None,
        "errors": errors or {},
        "refused": refused or [],
        "bulk": bulk_values or {"numbers": [], "action": "", "comment": ""},
        "done": int(done) if done and done.isdigit() else None,
    }
    return page(request, session, principal, "officer/inbox.html", context, status_code=status_code)


@router.get("/officer")
def inbox(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    return _inbox(request, session, officer)


@router.get("/officer/inbox.csv")
def inbox_csv(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """The inbox as the page filters it, every item (not one page), as a spreadsheet."""
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    params = {k: v for k, v in request.query_params.items() if k in ("service", "state", "due", "overdue")}
    work = service.inbox(session, officer, _inbox_filter(session, officer, params), limit=export.MAX_ROWS + 1)
    return export.download(session, officer, work, "inbox", current_language())


SEARCH_FIELDS = ("number", "name", "mobile", "service")


def _search_params(request: Request) -> dict[str, str]:
    return {k: v.strip() for k, v in request.query_params.items() if k in SEARCH_FIELDS and v.strip()}


def _search(session: DbSession, officer: Principal, params: dict[str, str], *, limit: int, offset: int = 0) -> list[Application]:
    return service.search(
        session,
        officer,
        service.InboxFilter(service=params.get("service")),
        number=params.get("number"),
        name=params.get("name"),
        mobile=params.get("mobile"),
        limit=limit,
        offset=offset,
    )


SEARCH_ERRORS = {
    "name": N_("Write at least one whole word of the name, at most 8 words."),
    "mobile": N_("Enter a 10-digit mobile number starting with 6, 7, 8 or 9."),
}


@router.get("/officer/search")
def search(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """Applications in the officer's jurisdiction by number, a word of a name or a mobile number."""
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    params = _search_params(request)
    try:
        number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        number = 1
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] | None = None
    more = False
    status_code = 200
    if any(params.get(k) for k in ("number", "name", "mobile")):
        try:
            found = _search(session, officer, params, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
        except Invalid as exc:
            for key in field_errors(exc):
                field = key.rpartition(".")[2]
                errors[field] = _(SEARCH_ERRORS[field]) if field in SEARCH_ERRORS else exc.detail
            status_code = 422
        else:
            roles = role_names(session, officer.state_code)
            shown = found[:PAGE_SIZE]
            services = _services_of(session, shown)
            rows = [_row(session, a, roles, services[a.id]) for a in shown]
            more = len(found) > PAGE_SIZE

    def page_url(n: int) -> str:
        return f"{WORKBENCH}/search?" + urlencode({**params, "page": str(n)})

    service_choices, _states = _filter_options(session, officer)
    context = {
        "page_title": _("Search applications"),
        "params": params,
        "services": service_choices,
        "errors": errors,
        "rows": rows,
        "page_number": number,
        "previous_url": page_url(number - 1) if rows is not None and number > 1 else None,
        "next_url": page_url(number + 1) if more else None,
        "csv_url": f"{WORKBENCH}/search.csv?" + urlencode(params),
    }
    return page(request, session, officer, "officer/search.html", context, status_code=status_code)


@router.get("/officer/search.csv")
def search_csv(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """Every application the search finds (not one page), as a spreadsheet."""
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    found = _search(session, officer, _search_params(request), limit=export.MAX_ROWS + 1)
    return export.download(session, officer, found, "applications", current_language())


@router.post("/officer/bulk")
async def bulk(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    chosen = [str(v) for v in form.getlist("item")]
    items = []
    for value in chosen:
        number, _sep, version = value.rpartition("@")
        items.append(service.BulkItem(number, int(version) if version.isdigit() else 0))
    action = form_text(form, "do")
    comment = form_text(form, "comment") or None
    values = {"numbers": [i.number for i in items], "action": action, "comment": comment or ""}
    if not action:
        return _inbox(
            request, session, officer, errors={"action": _("Choose the action to take.")}, bulk_values=values, status_code=422
        )
    try:
        with attempt(session):
            done = service.bulk_act(session, officer, items, action=action, comment=comment)
    except service.BulkRefused as exc:
        refused = [{"number": e["number"], "reason": _refusal(e)} for e in exc.extra.get("errors", [])]
        message = _("Nothing was changed: %(num)s of the chosen applications refused this action.") % {"num": len(refused)}
        return _inbox(
            request, session, officer, errors={"_": message}, refused=refused, bulk_values=values, status_code=exc.status
        )
    except Invalid as exc:
        errors = field_errors(exc)
        shown = {}
        if "items" in errors or any(k.startswith("items") for k in errors):
            shown["items"] = _("Choose at least one application, each once, and at most 100.")
        if "action" in errors:
            shown["action"] = _("This action is taken on one application at a time.")
        return _inbox(request, session, officer, errors=shown or {"_": exc.detail}, bulk_values=values, status_code=422)
    return see_other(f"{WORKBENCH}?done={len(done)}")


REFUSALS = {
    "stale-version": N_("it changed since you loaded the inbox; reload and check it"),
    "action-not-allowed": N_("the action is not allowed in its present state"),
    "forbidden": N_("your role may not take this action on it"),
    "not-found": N_("it is not within your jurisdiction"),
    "validation-error": N_("a comment saying why is required"),
}


def _refusal(error: dict[str, Any]) -> str:
    reason = REFUSALS.get(str(error.get("type")))
    return _(reason) if reason else str(error.get("msg", ""))


def _applicant_mobile(session: DbSession, app: Application) -> str | None:
    user = session.get(User, app.applicant_id)
    if user is None or not user.mobile_sealed:
        return None
    return runtime_of(session).cipher.decrypt(user.mobile_sealed, context="mobile")


def _masked(session: DbSession, app: Application, rows: list[dict[str, Any]], revealed: dict[str, str]) -> list[dict[str, Any]]:
    """What the page may show: mobile and identity numbers masked, each with the item a reveal names."""
    items: list[dict[str, Any]] = []
    mobile = _applicant_mobile(session, app)
    if mobile:
        items.append({"item": APPLICANT_MOBILE, "label": None, "value": revealed.get(APPLICANT_MOBILE, access.mask(mobile))})
    for row in rows:
        if access.is_masked_field(row["key"]) and row["kind"] == "text":
            item = f"field-{row['key']}"
            row["value"] = revealed.get(item, access.mask(row["value"]))
            row["item"] = item
    return items


def _revealable(session: DbSession, app: Application, item: str) -> str | None:
    """The value behind a masked item of this application, or None when there is no such item."""
    if item == APPLICANT_MOBILE:
        return _applicant_mobile(session, app)
    if item.startswith("field-") and access.is_masked_field(item[6:]):
        value = unseal_data(app).get(item[6:])
        return None if value is None else str(value)
    return None


def _application(
    request: Request,
    session: DbSession,
    principal: Principal,
    number: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    revealed: dict[str, str] | None = None,
) -> Response:
    app = service.get(session, principal, number)
    svc = service.service_for(session, app)
    roles = role_names(session, app.state_code)
    now = utcnow()
    actions = []
    if app.submitted_at is not None:
        for action in engine.allowed_actions(svc, app, principal, now):
            if action["code"] in ("submit", "appeal"):
                continue
            actions.append(
                {
                    "code": action["code"],
                    "name": built_in_name(action["code"], action.get("name")),
                    "comment_required": bool(action.get("comment_required")),
                    "warning": action["code"] in ("reject", "dismiss_appeal", "return"),
                    # an action that hands the application back: the officer may name what to correct
                    "corrects": "to" in action and engine.returns_to_applicant(svc, app.state, action["to"]),
                }
            )
    ui_fields = svc.definition["form"].get("ui", {}).get("fields", {})
    correctable = {
        "fields": [(name, ui_fields.get(name, {}).get("label") or name) for name in engine.form_field_names(svc)],
        "documents": [(d["code"], d["name"]) for d in svc.definition.get("documents", [])],
    }
    history = [
        {
            "at": as_aware(h.at),
            "action": built_in_name(h.action, next((a["name"] for a in svc.actions() if a["code"] == h.action), None)),
            "from": state_name(svc, h.from_state) if h.from_state else None,
            "to": state_name(svc, h.to_state),
            "role": roles.get(h.actor_role, h.actor_role),
            "comment": correction_note(svc, h.action, h.data) or step_note(h.action, h.comment, h.data),
        }
        for h in service.history(session, app)
    ]
    doc_names = {d["code"]: d["name"] for d in svc.definition.get("documents", [])}
    documents = [
        {
            "id": d.id,
            "name": doc_names.get(d.doc_type, d.doc_type),
            "filename": d.filename,
            "media_type": d.media_type,
            "size": d.size,
            "verified": d.verified_at is not None,
            "url": f"{WORKBENCH}/applications/{app.number}/documents/{d.id}",
        }
        for d in service.documents(session, app)
    ]
    done = request.query_params.get("done")
    done_name = None
    if done:
        done_name = built_in_name(done, next((a["name"] for a in svc.actions() if a["code"] == done), None))
    body = body_place(session, app.local_body_code).body
    fields = form_rows(svc, unseal_data(app))
    masked = _masked(session, app, fields, revealed or {})
    context = {
        "page_title": _("Application %(number)s") % {"number": app.number},
        "app": app,
        "body_name": body.name,
        "row": _row(session, app, roles),
        "service_due": as_aware(app.service_due_at),
        "fields": fields,
        "masked": masked,
        "revealed": revealed or {},
        "documents": documents,
        "fee_lines": app.fee_lines,
        "counter_url": f"{WORKBENCH}/counter?body={app.local_body_code}&q={app.number}",
        "may_collect": principal.may(
            "payments:payment:collect", state_code=app.state_code, local_body_code=app.local_body_code, ward_code=app.ward_code
        ),
        "history": history,
        "correctable": correctable,
        "actions": actions,
        "errors": errors or {},
        "values": values or {},
        "done": done_name,
        "consent": app.consent_at is not None,
    }
    return page(request, session, principal, "officer/application.html", context, status_code=status_code)


@router.get("/officer/applications/{number}")
def application(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    return _application(request, session, officer, number)


@router.post("/officer/applications/{number}/act")
async def act(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    action = form_text(form, "do")
    comment = form_text(form, f"comment-{action}") or None
    version = form_text(form, "version")
    values = {f"comment-{action}": comment or ""}
    fields = [str(v) for v in form.getlist(f"correct-field-{action}")]
    documents = [str(v) for v in form.getlist(f"correct-document-{action}")]
    correct = engine.Correct(fields, documents) if fields or documents else None  # none ticked: anything may be corrected
    try:
        with attempt(session):
            service.act(
                session,
                officer,
                number,
                action=action,
                comment=comment,
                version=int(version) if version.isdigit() else 0,
                correct=correct,
            )
    except Invalid as exc:
        errors = {f"comment-{action}": _("Write a comment saying why.")} if "comment" in field_errors(exc) else {"_": exc.detail}
        return _application(request, session, officer, number, errors=errors, values=values, status_code=422)
    except engine.PreconditionFailed:
        message = _("Someone else changed this application while you were reading it. Check it again below.")
        return _application(request, session, officer, number, errors={"_": message}, values=values, status_code=412)
    except Problem as exc:
        if exc.status == 404:
            raise
        message = _("This action could not be taken: %(reason)s") % {"reason": exc.detail}
        return _application(request, session, officer, number, errors={"_": message}, values=values, status_code=exc.status)
    return see_other(f"{WORKBENCH}/applications/{number}?done={action}")


@router.post("/officer/applications/{number}/reveal")
async def reveal(request: Request, number: str, session: DbSession, principal: PagePrincipal) -> Response:
    """Show one masked number of the application, for a reason the officer writes; the reveal is logged."""
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    item = form_text(form, "item")[:80]
    reason = strip_bidi(form_text(form, f"reason-{item}"))
    app = service.get(session, officer, number)
    value = _revealable(session, app, item)
    if value is None:
        raise NotFound("nothing masked by that name on this application")
    if len(reason) < REASON_MIN or len(reason) > access.REASON_MAX:
        message = _("Write why you need to see it, in %(min)s to %(max)s characters.") % {
            "min": REASON_MIN,
            "max": access.REASON_MAX,
        }
        errors = {f"reason-{item}": message}
        return _application(request, session, officer, number, errors=errors, values={f"reason-{item}": reason}, status_code=422)
    service.note_reveal(session, officer, app, item, reason)
    response = _application(request, session, officer, number, revealed={item: value})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/officer/applications/{number}/documents/{doc_id}")
def document(request: Request, number: str, doc_id: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    doc, content = service.document_content(session, officer, number, doc_id)
    return Response(
        content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'inline; filename="{doc.id}"',
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": DOCUMENT_CSP,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@router.get("/officer/due")
def falls_due(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    view = service.falls_due(session, officer, service=request.query_params.get("service") or None, limit=200)
    roles = role_names(session, officer.state_code)
    services = _services_of(session, [a for name in service.DUE_BUCKETS for a in view.buckets[name]])
    buckets = [
        {
            "name": name,
            "title": DUE_CHOICES[name],
            "count": view.counts[name],
            "rows": [_row(session, a, roles, services[a.id]) for a in view.buckets[name]],
        }
        for name in service.DUE_BUCKETS
    ]
    service_choices, _states = _filter_options(session, officer)
    context = {
        "page_title": _("What falls due"),
        "htmx": True,
        "today": view.windows.today,
        "buckets": buckets,
        "services": service_choices,
        "params": {"service": request.query_params.get("service", "")},
    }
    return page(request, session, officer, "officer/due.html", context)

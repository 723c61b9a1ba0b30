"""What the workbench's pages share: who may see them, the navigation, names from the pack."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog.definitions import Service
from nagara.kit.access import Principal
from nagara.tenancy.context import zone_of
from nagara.tenancy.models import Role
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.pages import sign_in_redirect
from nagara.web.templating import render

WORKBENCH = "/officer"

BUILT_IN_NAMES = {
    "draft": N_("Draft"),
    "first_appeal": N_("First appeal"),
    "second_appeal": N_("Second appeal"),
    "appeal_dismissed": N_("Appeal dismissed"),
    "submit": N_("Submit"),
    "appeal": N_("Appeal"),
    "allow_appeal": N_("Allow the appeal"),
    "dismiss_appeal": N_("Dismiss the appeal"),
    "escalate": N_("Escalated"),
    "self_certified": N_("Approved on self-certification"),
    "applicant": N_("Applicant"),
    "system": N_("System"),
    "fee_paid": N_("Fee paid"),
    "form_corrected": N_("Details corrected"),
    "document_added": N_("Document added"),
    "document_replaced": N_("Document replaced"),
    "document_removed": N_("Document removed"),
}


def officer_or_redirect(request: Request, principal: Principal | None) -> Principal | Response:
    """The signed-in officer, or the way to the officer sign-in (and back here afterwards)."""
    if principal is None or principal.kind != "officer":
        return sign_in_redirect(request)
    return principal


def nav(principal: Principal) -> dict[str, bool]:
    """Which parts of the workbench the officer's roles open."""
    return {
        "inbox": principal.has("applications:application:read"),
        "assist": principal.has("identity:citizen:assist"),
        "admin": any(principal.has(p) for p in ("tenancy:settings:read", "identity:user:read", "tenancy:pack:read")),
        "breaches": principal.has("privacy:breach:manage"),  # the register of personal data breaches (privacy)
    }


def timezone_of(session: Session, state_code: str | None) -> str:
    return zone_of(session, state_code).key


def role_names(session: Session, state_code: str | None) -> dict[str, dict[str, str]]:
    names: dict[str, dict[str, str]] = {code: {"en": _(text)} for code, text in BUILT_IN_NAMES.items()}
    if state_code:
        for role in session.scalars(select(Role).where(Role.state_code == state_code)):
            names[role.code] = role.name
    return names


def built_in_name(code: str, names: dict[str, str] | None = None) -> dict[str, str] | str:
    """A pack's name for a state or action; the built-in ones (appeals, drafts) are translated here."""
    if code in BUILT_IN_NAMES:
        return _(BUILT_IN_NAMES[code])
    return names or code


def state_name(service: Service, state: str) -> dict[str, str] | str:
    if state in BUILT_IN_NAMES:
        return _(BUILT_IN_NAMES[state])
    try:
        return service.state(state).get("name") or state
    except KeyError:
        return state


def page(request: Request, session: Session, principal: Principal, template: str, context: dict[str, Any], **kw: Any) -> Response:
    values = {"nav": nav(principal), "timezone": timezone_of(session, principal.state_code), **context}
    return render(request, template, values, **kw)


def form_rows(service: Service, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The form's answers in the pack's order, with the pack's labels and option names."""
    form = service.definition.get("form") or {}
    schema = form.get("schema") or {}
    ui = form.get("ui") or {}
    fields = ui.get("fields") or {}
    properties = schema.get("properties") or {}
    order = list(ui.get("order") or properties)
    order += [k for k in properties if k not in order] + [k for k in data if k not in order and k not in properties]
    rows = []
    for key in order:
        if key not in data:
            continue
        value = data[key]
        hints = fields.get(key) or {}
        options = hints.get("options") or {}
        kind = "text"
        shown: Any = value
        if isinstance(value, bool):
            kind, shown = "bool", value
        elif isinstance(value, str) and str(value) in options:
            kind, shown = "names", options[value]
        elif (properties.get(key) or {}).get("format") == "date" and isinstance(value, str):
            try:
                kind, shown = "date", date.fromisoformat(value)
            except ValueError:
                kind = "text"
        elif isinstance(value, int | float):
            kind = "number"
        rows.append({"key": key, "label": hints.get("label") or key, "kind": kind, "value": shown})
    return rows


def as_aware(value: datetime | None) -> datetime | None:

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value

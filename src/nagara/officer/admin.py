"""Administration pages: a local body's services and settings, its officers and roles, the pack's status.

Reads go through ``catalog.service_settings``, ``identity.list_users`` / ``describe`` and
``tenancy.pack_status``; granting and revoking roles through ``identity.grant_role`` and
``identity.revoke_role``, the functions behind ``nagara users grant``; disabling and enabling
an officer and revoking their keys and sessions through ``identity.credentials`` (behind
``nagara users disable / enable / revoke-token`` and the API's ``/users/{id}/...``); an
officer's password is set through ``identity.reset_password`` (``nagara users reset-password``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from nagara.catalog import service as catalog
from nagara.identity import credentials
from nagara.identity import service as identity
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.identity.models import RoleAssignment
from nagara.kit.access import Principal, scope
from nagara.kit.db import utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound
from nagara.notifications import service as notifications
from nagara.officer.common import WORKBENCH, officer_or_redirect, page, role_names
from nagara.tenancy import service as tenancy
from nagara.tenancy.context import body_place, thaw
from nagara.tenancy.models import LocalBody, Role
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, see_other

router = APIRouter(include_in_schema=False)
DELIVERY = "notifications:delivery:read"


def _bodies(session: DbSession, principal: Principal, permission: str) -> list[LocalBody]:
    """The local bodies where the principal holds ``permission``: every one of their state first, then their own."""
    held = scope(principal, permission, state_col=LocalBody.state_code, local_body_col=LocalBody.code)
    bodies = session.scalars(select(LocalBody).where(held).order_by(LocalBody.code))
    return sorted(bodies, key=lambda b: not principal.may(permission, state_code=b.state_code))


def _admin(request: Request, principal: Principal | None) -> Principal | Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    if not any(officer.has(p) for p in ("tenancy:settings:read", "identity:user:read", "tenancy:pack:read", DELIVERY)):
        raise Forbidden("administration is for secretaries and state administrators")
    return officer


@router.get("/officer/admin")
def overview(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    context = {
        "page_title": _("Administration"),
        "settings_bodies": _bodies(session, officer, "tenancy:settings:read"),
        "officer_bodies": _bodies(session, officer, "identity:user:read"),
        "pack": officer.has("tenancy:pack:read"),
        "exchange": officer.has("exchange:member:manage"),
        "delivery": bool(officer.state_code) and officer.may(DELIVERY, state_code=officer.state_code),
    }
    return page(request, session, officer, "officer/admin.html", context)


@router.get("/officer/admin/go")
def go(request: Request, principal: PagePrincipal, services: str = "", officers: str = "") -> Response:
    """The body chooser of the overview (a plain GET form) leads to that body's page."""
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    if services:
        return see_other(f"{WORKBENCH}/admin/bodies/{quote(services, safe='')}/services")
    if officers:
        return see_other(f"{WORKBENCH}/admin/bodies/{quote(officers, safe='')}/officers")
    return see_other(f"{WORKBENCH}/admin")


@router.get("/officer/admin/bodies/{code}/services")
def services(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    rows = catalog.service_settings(session, officer, code)
    place = body_place(session, code)
    body = place.body
    own = {k: v for k, v in thaw(body.overrides).items() if k != "services"}
    settings = place.settings
    roles = role_names(session, body.state_code)
    context = {
        "page_title": _("Services and settings"),
        "body": body,
        "services": [
            {
                "code": r.service.code,
                "name": r.service.definition["name"],
                "version": r.version,
                "offered": r.offered,
                "sla_days": r.service.workflow["sla_days"],
                "designated_officer": roles.get(
                    r.service.workflow["designated_officer"], r.service.workflow["designated_officer"]
                ),
                "states": [
                    {
                        "name": st.get("name") or sc,
                        "role": roles.get(st.get("role") or "", st.get("role") or ""),
                        "sla_days": st.get("sla_days"),
                        "escalate_to": roles.get(st.get("escalate_to") or "", st.get("escalate_to") or ""),
                    }
                    for sc, st in r.service.workflow["states"].items()
                    if not st.get("final")
                ],
                "fees": list(r.service.definition.get("fees", {}).get("items", [])),
                "overridden": r.overridden,
            }
            for r in rows
        ],
        "settings_overridden": catalog.override_paths(own),
        "office_hours": settings.get("office_hours") or {},
        "holidays": (own.get("calendar") or {}).get("holidays") or [],
    }
    return page(request, session, officer, "officer/admin_services.html", context)


def _officers_page(
    request: Request,
    session: DbSession,
    officer: Principal,
    code: str,
    *,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    body = tenancy.get_local_body(session, code)
    if body not in _bodies(session, officer, "identity:user:read"):
        raise NotFound(f"no local body {code!r} within your jurisdiction")
    users = identity.list_users(session, officer, local_body_code=code)
    roles = role_names(session, body.state_code)
    bodies = {b.code: b.name for b in session.scalars(select(LocalBody).where(LocalBody.state_code == body.state_code))}
    people: list[dict[str, Any]] = []
    held = credentials.active_of(session, [u.id for u in users])
    for user in users:
        described = identity.describe(session, user)
        people.append(
            {
                "id": user.id,
                "username": described["username"],
                "name": described["name"],
                "active": described["is_active"],
                "credentials": [
                    {"id": t.id, "kind": t.kind, "label": t.label or "", "expires_at": t.expires_at} for t in held[user.id]
                ],
                "roles": [
                    {
                        "id": r["id"],
                        "name": roles.get(str(r["role"]), r["role"]),
                        "where": bodies.get(str(r["local_body"])) if r["local_body"] else None,
                        "ward": r["ward"],
                        "state_wide": r["local_body"] is None,
                        "manageable": officer.may(
                            "identity:user:manage",
                            state_code=str(r["state"]),
                            local_body_code=r["local_body"],
                            ward_code=r["ward"],
                        ),
                    }
                    for r in described["roles"]  # type: ignore[attr-defined]
                ],
            }
        )
        person = people[-1]
        # Their account and keys are the caller's to manage when the caller manages every role they hold.
        person["account"] = user.id != officer.user_id and all(r["manageable"] for r in person["roles"])
    grantable = [
        {"code": r.code, "name": r.name}
        for r in session.scalars(
            select(Role).where(Role.state_code == body.state_code, Role.scope.in_(("local_body",))).order_by(Role.code)
        )
    ]
    context = {
        "page_title": _("Officers and their roles"),
        "body": body,
        "people": people,
        "grantable": grantable
        if officer.may("identity:user:manage", state_code=body.state_code, local_body_code=body.code)
        else [],
        "errors": errors or {},
        "done": done,
    }
    return page(request, session, officer, "officer/admin_officers.html", context, status_code=status_code)


@router.get("/officer/admin/bodies/{code}/officers")
def officers(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    done = {
        "granted": _("The role was granted."),
        "revoked": _("The role was revoked."),
        "disabled": _("The account was disabled: its sessions, tokens and keys no longer work."),
        "enabled": _("The account was enabled. They sign in again."),
        "key-revoked": _("It was revoked and no longer works."),
        "password": _("The password was set. Their sessions and tokens have ended."),
    }.get(request.query_params.get("done", ""))
    return _officers_page(request, session, officer, code, done=done)


@router.post("/officer/admin/bodies/{code}/officers/grant")
async def grant(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    body = tenancy.get_local_body(session, code)
    user_id, role = form_text(form, "user"), form_text(form, "role")
    try:
        with attempt(session):
            user = identity.get_user(session, officer, user_id)
            identity.grant_role(session, officer, user, role, identity.Place(body.state_code, body.code))
    except Invalid as exc:
        errors = {f"role-{user_id}": field_errors(exc).get("role") or exc.detail}
        return _officers_page(request, session, officer, code, errors=errors, status_code=422)
    except Conflict:
        return _officers_page(
            request, session, officer, code, errors={f"role-{user_id}": _("They already hold this role here.")}, status_code=409
        )
    return see_other(f"{WORKBENCH}/admin/bodies/{code}/officers?done=granted")


@router.post("/officer/admin/bodies/{code}/officers/revoke")
async def revoke(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    user_id, assignment_id = form_text(form, "user"), form_text(form, "assignment")
    if user_id == officer.user_id:
        return _officers_page(
            request, session, officer, code, errors={"_": _("You cannot revoke your own roles here.")}, status_code=409
        )
    identity.get_user(session, officer, user_id)
    ra = session.get(RoleAssignment, assignment_id)
    if ra is None or ra.local_body_code != code:
        raise NotFound("no such role at this local body")
    identity.revoke_role(session, officer, user_id, assignment_id)
    return see_other(f"{WORKBENCH}/admin/bodies/{code}/officers?done=revoked")


async def _account_form(request: Request, session: DbSession, officer: Principal, code: str) -> tuple[Any, str]:
    """The officer named by a form of the officers page: at this body, and theirs to manage."""
    form = await request.form()
    user_id = form_text(form, "user")
    body = tenancy.get_local_body(session, code)
    if body not in _bodies(session, officer, "identity:user:read"):
        raise NotFound(f"no local body {code!r} within your jurisdiction")
    user = credentials.managed_user(session, officer, user_id)
    here = session.scalar(
        select(RoleAssignment.id).where(RoleAssignment.user_id == user.id, RoleAssignment.local_body_code == code).limit(1)
    )
    if here is None:
        raise NotFound("no such officer at this local body")
    return user, form_text(form, "token")


@router.post("/officer/admin/bodies/{code}/officers/disable")
async def disable(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    return await _set_active(request, code, session, principal, enabled=False)


@router.post("/officer/admin/bodies/{code}/officers/enable")
async def enable(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    return await _set_active(request, code, session, principal, enabled=True)


async def _set_active(request: Request, code: str, session: DbSession, principal: Principal | None, *, enabled: bool) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    user, _token = await _account_form(request, session, officer, code)
    if user.id == officer.user_id:
        errors = {"_": _("You cannot disable or enable your own account.")}
        return _officers_page(request, session, officer, code, errors=errors, status_code=409)
    credentials.set_active(session, officer, user, enabled=enabled)
    return see_other(f"{WORKBENCH}/admin/bodies/{code}/officers?done={'enabled' if enabled else 'disabled'}")


@router.post("/officer/admin/bodies/{code}/officers/revoke-key")
async def revoke_key(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    user, token_id = await _account_form(request, session, officer, code)
    credentials.revoke(session, user, token_id)
    return see_other(f"{WORKBENCH}/admin/bodies/{code}/officers?done=key-revoked")
@router.post("/officer/admin/bodies/{code}/officers/password")
async def reset_password(request: Request, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    """Set an officer's password (``identity.reset_password``, as ``nagara users reset-password`` does)."""
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    form = await request.form()
    user_id = form_text(form, "user")
    if user_id == officer.user_id:
        errors = {f"password-{user_id}": _("Change your own password with your current one, not here.")}
        return _officers_page(request, session, officer, code, errors=errors, status_code=409)
    try:
        with attempt(session):
            identity.reset_password(session, officer, user_id, new=str(form.get("password") or ""))
    except Invalid as exc:
        errors = {f"password-{user_id}": field_errors(exc).get("password") or exc.detail}
        return _officers_page(request, session, officer, code, errors=errors, status_code=422)
    return see_other(f"{WORKBENCH}/admin/bodies/{code}/officers?done=password")


@router.get("/officer/admin/pack")
def pack(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    if not officer.state_code:
        raise Forbidden("you hold no role in a state")
    status = tenancy.pack_status(session, officer, officer.state_code)
    state = tenancy.get_state(session, officer.state_code)
    context = {"page_title": _("The state's pack"), "status": status, "state": state}
    return page(request, session, officer, "officer/admin_pack.html", context)


@router.get("/officer/admin/notifications")
def delivery(request: Request, session: DbSession, principal: PagePrincipal, days: int = 7) -> Response:
    """Messages of the state in the last ``days`` days per channel and template: how many, delivered, failed."""
    officer = _admin(request, principal)
    if isinstance(officer, Response):
        return officer
    if not officer.state_code or not officer.may(DELIVERY, state_code=officer.state_code):
        raise Forbidden("the delivery of messages is for state administrators")
    days = min(max(days, 1), 366)
    rows = notifications.delivery(session, officer.state_code, utcnow() - timedelta(days=days))
    failures = notifications.recent_failures(session, officer.state_code, limit=20)
    context = {"page_title": _("Delivery of messages"), "rows": rows, "days": days, "failures": failures}
    return page(request, session, officer, "officer/admin_delivery.html", context)

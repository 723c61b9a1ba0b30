"""What a grievance shows: to the public (no personal data, never a private grievance), and in full
to its citizen and the officers of its place; the lists behind the inbox and the public view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nagara.grievances import service
from nagara.grievances.categories import categories
from nagara.grievances.models import CLOSED, OPEN_STATES, RESOLVED, Grievance, GrievanceStep
from nagara.grievances.schemas import GrievanceOut, PublicGrievanceOut, StepOut
from nagara.kit.access import Principal, scope
from nagara.kit.errors import NotFound
from nagara.tenancy.context import body_place
from nagara.tenancy.service import ward_code


def status_of(g: Grievance) -> str:
    """Open311's status: open until resolved."""
    return "closed" if g.state in (RESOLVED, CLOSED) else "open"


def _category_name(session: Session, g: Grievance) -> dict[str, str]:
    found = next((c for c in categories(session, g.state_code) if c.code == g.category_code), None)
    return dict(found.definition["name"]) if found else {"en": g.category_code}


def _public(session: Session, g: Grievance, now: datetime) -> dict[str, Any]:
    return {
        "number": g.number,
        "local_body": g.local_body_code,
        "ward": g.ward_code,
        "category": g.category_code,
        "category_name": _category_name(session, g),
        "department": g.department,
        "state": g.state,
        "status": status_of(g),
        "level": g.level,
        "due_at": g.state_due_at,
        "overdue": bool(g.is_open and g.state_due_at is not None and g.state_due_at < now),
        "description": g.description,
        "address": g.address,
        "lat": g.lat,
        "lon": g.lon,
        "supporters": g.supporters,
        "filed_at": g.created_at,
        "updated_at": g.updated_at,
        "rating": g.rating,
    }


def public_out(session: Session, g: Grievance, now: datetime) -> PublicGrievanceOut:
    return PublicGrievanceOut.model_validate(_public(session, g, now))


def steps(session: Session, g: Grievance) -> list[GrievanceStep]:
    return list(session.scalars(select(GrievanceStep).where(GrievanceStep.grievance_id == g.id).order_by(GrievanceStep.seq)))


def full(session: Session, principal: Principal, g: Grievance, now: datetime, *, history: bool = True) -> GrievanceOut:
    merged = session.scalar(select(Grievance.number).where(Grievance.id == g.merged_into_id)) if g.merged_into_id else None
    service.category_of(session, g)
    return GrievanceOut.model_validate(
        {
            **_public(session, g, now),
            "version": g.version,
            "public": g.public,
            "attributes": g.attributes,
            "assigned_role": g.assigned_role,
            "assigned_to": g.assigned_to_id if principal.kind == "officer" else None,  # officers' ids stay in the office
            "resolution_note": g.resolution_note,
            "reopen_count": g.reopen_count,
            "appeal_level": g.appeal_level,
            "merged_into": merged,
            "allowed_actions": service.allowed_actions(principal, g, now),
            "history": [StepOut.model_validate(s) for s in steps(session, g)] if history else [],
        }
    )


def search(
    session: Session,
    principal: Principal,
    *,
    local_body: str | None,
    category: str | None,
    state: str | None,
    level: int | None,
    overdue: bool | None,
    limit: int,
    offset: int,
    now: datetime,
) -> list[Grievance]:
    """The citizen's own; an officer's jurisdiction (soonest due first)."""
    mine = Grievance.citizen_id == principal.user_id
    theirs = scope(
        principal,
        service.READ,
        state_col=Grievance.state_code,
        local_body_col=Grievance.local_body_code,
        ward_col=Grievance.ward_code,
    )
    q = select(Grievance).where(or_(mine, theirs))
    if local_body:
        q = q.where(Grievance.local_body_code == local_body)
    if category:
        q = q.where(Grievance.category_code == category)
    if state:
        q = q.where(Grievance.state == state)
    if level:
        q = q.where(Grievance.level == level)
    if overdue is not None:
        late = Grievance.is_open.is_(True) & (Grievance.state_due_at < now)
        q = q.where(late if overdue else ~late)
    order = (Grievance.created_at.desc(),) if principal.kind == "citizen" else (Grievance.is_open.desc(), Grievance.state_due_at)
    return list(session.scalars(q.order_by(*order, Grievance.number).limit(limit).offset(offset)))


def public_list(
    session: Session,
    code: str,
    *,
    category: str | None,
    ward: int | None,
    status: str | None,
    level: int | None,
    overdue: bool | None,
    since: datetime | None,
    limit: int,
    offset: int,
    now: datetime,
) -> list[Grievance]:
    body = body_place(session, code).body.code
    q = select(Grievance).where(Grievance.local_body_code == body, Grievance.public.is_(True), Grievance.merged_into_id.is_(None))
    if category:
        q = q.where(Grievance.category_code == category)
    if ward is not None:
        q = q.where(Grievance.ward_code == ward_code(body, ward))
    if status == "open":
        q = q.where(Grievance.state.in_(OPEN_STATES))
    elif status == "closed":
        q = q.where(Grievance.state.in_((RESOLVED, CLOSED)))
    if level:
        q = q.where(Grievance.level == level)
    if overdue is not None:
        late = Grievance.is_open.is_(True) & (Grievance.state_due_at < now)
        q = q.where(late if overdue else ~late)
    if since is not None:
        q = q.where(Grievance.created_at >= since)
    return list(session.scalars(q.order_by(Grievance.created_at.desc(), Grievance.number).limit(limit).offset(offset)))


def public_get(session: Session, number: str) -> Grievance:
    g = session.scalar(select(Grievance).where(Grievance.number == number, Grievance.public.is_(True)))
    if g is None:
        raise NotFound(f"no public grievance {number!r}")
    return g

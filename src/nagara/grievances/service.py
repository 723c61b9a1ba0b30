"""Filing a grievance and carrying it through its levels with the workflow engine.

States: received -> assigned (level 1) -> in progress -> resolved -> closed. The engine writes
every step to the grievance's history (announced, recorded on the ledger), hands the grievance to
the least-loaded holder of the level's role and moves it up a level when the level's time passes
(:func:`sweep`). Officers act at the level they hold now; the citizen confirms, rates, reopens
(one level up) or, with a poor rating, appeals (one level up).
"""

from __future__ import annotations

import math
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from nagara.catalog.definitions import Service
from nagara.grievances import events
from nagara.grievances.categories import Category, categories, check_attribute
from nagara.grievances.categories import get as get_category
from nagara.grievances.models import (
    ASSIGNED,
    CLOSED,
    IN_PROGRESS,
    MERGED,
    OPEN_STATES,
    RECEIVED,
    RESOLVED,
    Grievance,
    GrievanceCategory,
    GrievancePhoto,
    GrievanceSupporter,
)
from nagara.grievances.photos import Photo
from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.kit import numbers
from nagara.kit.access import Principal
from nagara.kit.edge import bad_text
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound
from nagara.runtime import runtime_of
from nagara.tenancy.context import body_place, for_pack
from nagara.tenancy.models import Role, Ward
from nagara.worker.events import emit
from nagara.workflow import engine

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
MAX_COMMENT = 2000
MAX_PHOTOS = 5
FILE = "grievances:grievance:file"  # file for a caller (call centre, counter, Open311 partner)
READ = "grievances:grievance:read"
ACT = "grievances:grievance:act"
CITIZEN = "citizen"
SYSTEM = engine.SYSTEM


def _error(loc: list[str | int], msg: str, kind: str = "value_error") -> Invalid:
    return Invalid(msg, [{"loc": ["body", *loc], "msg": msg, "type": kind}])


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise _error([name], f"{name} is required", "missing")
        return None
    if bad_text(value):
        raise _error([name], f"{name} contains control characters or unpaired surrogates")
    if len(value) > limit:
        raise _error([name], f"{name} is {len(value):,} characters; at most {limit:,} are allowed", "too_long")
    return value.strip()


def as_service(category: Category) -> Service:
    """The category as the engine's service: what its events and history steps name."""
    return Service(category.state_code, {"code": category.code, "short": "G", "workflow": {"states": {}}}, 0)


# --- where: ward, address or a point inside the state -------------------------------------------


def inside(point: tuple[float, float], polygon: list[list[float]]) -> bool:
    """Whether (lat, lon) lies inside the polygon of [lat, lon] corners (ray casting)."""
    lat, lon = point
    found = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        (ai, bi), (aj, bj) = polygon[i], polygon[j]
        if (bi > lon) != (bj > lon) and lat < (aj - ai) * (lon - bi) / (bj - bi) + ai:
            found = not found
        j = i
    return found


@dataclass
class Where:
    ward: int | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


def _ward_code(session: Session, local_body_code: str, number: int) -> str:
    def read() -> dict[int, str]:
        rows = session.execute(select(Ward.number, Ward.code).where(Ward.local_body_code == local_body_code))
        return {int(n): str(c) for n, c in rows}

    wards = for_pack(session, local_body_code.split(".", maxsplit=1)[0], ("grievances.wards", local_body_code), read)
    if number not in wards:
        known = ", ".join(map(str, sorted(wards))) or "none are defined"
        raise _error(["ward"], f"ward {number} is not a ward of {local_body_code}; wards: {known}", "enum")
    return wards[number]


def _check_where(session: Session, category: Category, local_body_code: str, where: Where) -> str | None:
    if (where.lat is None) != (where.lon is None):
        raise _error(["lat" if where.lat is None else "lon"], "give both latitude and longitude, or neither", "missing")
    if where.lat is not None and where.lon is not None:
        for name, value, limit in (("lat", where.lat, 90), ("lon", where.lon, 180)):
            if not math.isfinite(value) or abs(value) > limit:
                raise _error([name], f"{name} must be a finite number between -{limit} and {limit}")
        area = category.definition.get("settings", {}).get("area")
        if area and not inside((where.lat, where.lon), area):
            state = body_place(session, local_body_code).state.code
            raise _error(["lat"], f"the point ({where.lat}, {where.lon}) lies outside the state {state!r}", "outside")
    where.address = _text(where.address, "address", MAX_ADDRESS)
    ward = _ward_code(session, local_body_code, where.ward) if where.ward is not None else None
    if category.location_required and ward is None and where.address is None and where.lat is None:
        raise _error(
            ["location"],
            f"category {category.code!r} needs a location: a ward, an address, or a latitude and longitude",
            "missing",
        )
    return ward


def _check_attributes(category: Category, given: dict[str, Any]) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    known = {a["code"]: a for a in category.attributes}
    for key in given:
        if key not in known:
            msg = f"{key!r} is not an attribute of {category.code!r}; attributes: {', '.join(known) or 'none'}"
            errors.append({"loc": ["body", "attributes", key], "msg": msg, "type": "enum"})
    for code, attr in known.items():
        value = given.get(code)
        if value is None or value in ("", []):
            if attr["required"]:
                errors.append({"loc": ["body", "attributes", code], "msg": f"{code} is required", "type": "missing"})
            continue
        problem = check_attribute(attr, value)
        if problem:
            errors.append({"loc": ["body", "attributes", code], "msg": f"{code}: {problem}", "type": "value_error"})
    if errors:
        raise Invalid(f"{len(errors)} attribute(s) are invalid", errors)
    return {k: v for k, v in given.items() if v not in (None, "", [])}


# --- filing --------------------------------------------------------------------------------------


@dataclass
class Filing:
    local_body_code: str
    category: str
    description: str
    where: Where = field(default_factory=Where)
    attributes: dict[str, Any] = field(default_factory=dict)
    photo: Photo | None = None


def _store_photo(session: Session, g: Grievance, photo: Photo, kind: str, by: str) -> GrievancePhoto:
    files = runtime_of(session).files
    key = f"grievances/{g.local_body_code}/{g.id}/{uuid.uuid4().hex}"
    files.put(key, photo.original)
    files.put(key + ".public", photo.public)
    row = GrievancePhoto(
        grievance_id=g.id,
        kind=kind,
        media_type=photo.media_type,
        size=len(photo.original),
        sha256=photo.sha256,
        storage_key=key,
        public_key=key + ".public",
        uploaded_by_id=by,
    )
    session.add(row)
    return row


def file(
    session: Session, principal: Principal, filing: Filing, *, now: datetime, channel: str, citizen_id: str | None = None
) -> Grievance:
    """File a grievance: for oneself (a citizen), or for a caller (``citizen_id``; call centre, counter, partner app).

    Everything is checked before anything is written; the grievance is assigned at level 1 at once.
    """
    place = body_place(session, filing.local_body_code)
    if citizen_id is None:
        if principal.kind != "citizen":
            raise Forbidden("officers and partner apps file for a caller: name the citizen (or use Open311)")
        if principal.state_code != place.state.code:
            raise Forbidden(f"your account is of state {principal.state_code!r}; this local body is in {place.state.code!r}")
        citizen_id = principal.user_id
    elif not principal.may(FILE, state_code=place.state.code, local_body_code=place.body.code):
        raise Forbidden(f"filing for a caller at {place.body.code} needs {FILE!r} there")
    category = get_category(session, place.body.code, filing.category)
    description = _text(filing.description, "description", MAX_DESCRIPTION, required=True)
    ward = _check_where(session, category, place.body.code, filing.where)
    attributes = _check_attributes(category, filing.attributes)

    level = category.level(1)
    g = Grievance(
        id=str(uuid.uuid4()),
        token=str(uuid.uuid4()),
        state_code=place.state.code,
        local_body_code=place.body.code,
        ward_code=ward,
        category_code=category.code,
        department=category.department,
        public=category.public,
        channel=channel,
        citizen_id=citizen_id,
        filed_by_id=principal.user_id,
        partner_id=principal.user_id if principal.kind == "partner" else None,
        description=description,
        address=filing.where.address,
        lat=filing.where.lat,
        lon=filing.where.lon,
        attributes=attributes,
        state=RECEIVED,
        state_entered_at=now,
        level=1,
        created_at=now,
        updated_at=now,
    )
    g.number = numbers.next_number(session, place.body.code, "G", now.astimezone(place.zone).year)
    session.add(g)
    service = as_service(category)
    actor_role = CITIZEN if citizen_id == principal.user_id else _role_for_filing(principal, g)
    with session.no_autoflush:
        engine.record_step(
            session, service, g, action="file", to_state=RECEIVED, actor_id=principal.user_id,  # type: ignore[arg-type]
            actor_role=actor_role, comment=None, now=now, data={"channel": channel},
        )  # fmt: skip
        if filing.photo is not None:
            _store_photo(session, g, filing.photo, "report", principal.user_id)
        _enter(session, service, g, ASSIGNED, now)
        engine.assign_level(session, g, role=level["role"], days=level["days"], now=now)
        engine.record_step(
            session, service, g, action="assign", to_state=ASSIGNED, actor_id=None, actor_role=SYSTEM,  # type: ignore[arg-type]
            comment=None, now=now, data={"level": 1, "role": level["role"]},
        )  # fmt: skip
        g.state = ASSIGNED
    session.flush()
    emit(session, events.Filed(grievance=g, at=now, channel=channel))
    return g


def _role_for_filing(principal: Principal, g: Grievance) -> str:
    for grant in principal.grants:
        if FILE in grant.permissions and grant.covers(g.state_code, g.local_body_code, g.ward_code):
            return grant.role
    return principal.kind


def _enter(session: Session, service: Service, g: Grievance, state: str, now: datetime) -> None:
    g.state = state
    g.state_entered_at = now


# --- reading ---------------------------------------------------------------------------------------


def get(session: Session, number: str) -> Grievance:
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None:
        raise NotFound(f"no grievance {number!r}")
    return g


def may_read(principal: Principal, g: Grievance) -> bool:
    """The citizen who filed it, whoever said "me too" sees only what the public does; officers of its place."""
    if principal.user_id == g.citizen_id:
        return True
    return principal.may(READ, state_code=g.state_code, local_body_code=g.local_body_code, ward_code=g.ward_code)


def read(session: Session, principal: Principal, number: str) -> Grievance:
    """A grievance the principal may read in full; others' are not found (their existence is not told)."""
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None or not may_read(principal, g):
        raise NotFound(f"no grievance {number!r} that you may see")
    return g


def photos(session: Session, g: Grievance) -> list[GrievancePhoto]:
    return list(
        session.scalars(select(GrievancePhoto).where(GrievancePhoto.grievance_id == g.id).order_by(GrievancePhoto.uploaded_at))
    )


# --- acting --------------------------------------------------------------------------------------


OFFICER_ACTIONS = ("start", "assign", "transfer", "interim_reply", "resolve", "merge")
CITIZEN_ACTIONS = ("confirm", "reopen", "rate")


def _require_version(g: Grievance, version: int | None) -> None:
    engine.require_version_match(g, version)  # type: ignore[arg-type]


def acting_role(principal: Principal, g: Grievance) -> str | None:
    """The role in which the principal handles the grievance now: the level's role held here, or the
    field officer it was assigned to while they still hold a role that acts on grievances here."""
    if not principal.may(ACT, state_code=g.state_code, local_body_code=g.local_body_code, ward_code=g.ward_code):
        return None
    roles = {
        gr.role
        for gr in principal.grants
        if gr.scope != "self" and ACT in gr.permissions and gr.covers(g.state_code, g.local_body_code, g.ward_code)
    }
    if g.assigned_role in roles:
        return g.assigned_role
    if g.assigned_to_id == principal.user_id and roles:
        return min(roles)
    return None


def allowed_actions(principal: Principal, g: Grievance, now: datetime) -> list[str]:
    out: list[str] = []
    if g.state in OPEN_STATES and acting_role(principal, g) is not None:
        out += ["assign", "transfer", "interim_reply", "resolve", "merge"]
        if g.state != IN_PROGRESS:
            out.insert(0, "start")
    if principal.user_id == g.citizen_id:
        if g.state == RESOLVED:
            out.append("confirm")
        if _reopen_open(g, now):
            out.append("reopen")
        if g.state in (RESOLVED, CLOSED) and g.outcome != MERGED and g.rating is None and g.resolved_at is not None:
            out.append("rate")
    return out


def _reopen_open(g: Grievance, now: datetime) -> bool:
    if g.resolved_at is None or g.state not in (RESOLVED, CLOSED) or g.outcome == MERGED:
        return False
    days = int(g_settings(g).get("reopen_within_days", 15))
    return now <= g.resolved_at + timedelta(days=days)


def g_settings(g: Grievance) -> dict[str, Any]:
    return dict(memo_category(g).settings)


# The category each grievance in memory was last read with (its local body's overrides applied).
_CATEGORIES: weakref.WeakKeyDictionary[Grievance, Category] = weakref.WeakKeyDictionary()


def memo_category(g: Grievance) -> Category:
    found = _CATEGORIES.get(g)
    if found is None:
        raise RuntimeError("the grievance's category is not loaded: call category_of(session, g) first")
    return found


def category_of(session: Session, g: Grievance) -> Category:
    cat = get_category(session, g.local_body_code, g.category_code)
    _CATEGORIES[g] = cat
    return cat


@dataclass
class Act:
    action: str
    version: int | None = None
    comment: str | None = None
    due_on: datetime | None = None  # interim reply: the new due time of the level
    to_user: str | None = None  # assign: the field officer
    to_category: str | None = None  # transfer: another department's category
    to_local_body: str | None = None  # transfer: another local body
    into: str | None = None  # merge: the grievance's number it duplicates
    rating: int | None = None
    photo: Photo | None = None


def act(session: Session, principal: Principal, number: str, a: Act, *, now: datetime) -> Grievance:
    """Take one step; every refusal raises before anything changes."""
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None or not (may_read(principal, g) or acting_role(principal, g) is not None):
        raise NotFound(f"no grievance {number!r} that you may see")
    category = category_of(session, g)
    service = as_service(category)
    if a.action not in OFFICER_ACTIONS + CITIZEN_ACTIONS:
        msg = f"{a.action!r} is not a grievance action; actions: {', '.join(OFFICER_ACTIONS + CITIZEN_ACTIONS)}"
        raise _error(["action"], msg, "enum")
    _require_version(g, a.version)
    allowed = allowed_actions(principal, g, now)
    if a.action not in allowed:
        if a.action in OFFICER_ACTIONS and g.state in OPEN_STATES and principal.user_id != g.citizen_id:
            raise Forbidden(f"{a.action!r} is taken by the holder of {g.assigned_role!r} at level {g.level}; you are not")
        raise engine.NotAllowedNow(
            f"{a.action!r} cannot be taken in state {g.state!r}; you may: {', '.join(allowed) or 'nothing'}",
            extra={"current": {"version": g.version, "state": g.state}, "allowed": allowed},
        )
    comment = _text(a.comment, "comment", MAX_COMMENT)
    role = CITIZEN if a.action in CITIZEN_ACTIONS else (acting_role(principal, g) or "")
    from_state = g.state
    with session.no_autoflush:
        handler = _HANDLERS[a.action]
        data, event = handler(session, principal, g, a, comment, category, now)
        engine.record_step(
            session, service, g, action=a.action, to_state=g.state, actor_id=principal.user_id,  # type: ignore[arg-type]
            actor_role=role, comment=comment, now=now, data=data,
        )  # fmt: skip
        g.updated_at = now
    session.flush()
    if event is not None:
        emit(session, event(grievance=g, at=now, action=a.action, role=role, from_state=from_state))
    return g


Handler = Any


def _needs(comment: str | None, action: str) -> None:
    if not comment:
        raise _error(["comment"], f"{action!r} needs a comment", "missing")


def _start(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    _enter(session, as_service(c), g, IN_PROGRESS, now)
    return None, events.Started


def _assign(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    if not a.to_user:
        raise _error(["to_user"], "name the officer to assign it to", "missing")
    officer = session.get(User, a.to_user)
    holds = officer is not None and officer.is_active and officer.kind == "officer" and _holds_act_here(session, a.to_user, g)
    if not holds:
        raise _error(["to_user"], "that user is not an active officer who acts on grievances here", "enum")
    g.assigned_to_id = a.to_user
    return {"to_user": a.to_user}, events.Assigned


def _holds_act_here(session: Session, user_id: str, g: Grievance) -> bool:
    rows = session.execute(
        select(RoleAssignment.local_body_code, RoleAssignment.ward_code, Role.permissions, Role.scope)
        .join(Role, (Role.state_code == RoleAssignment.state_code) & (Role.code == RoleAssignment.role_code))
        .where(RoleAssignment.user_id == user_id, RoleAssignment.state_code == g.state_code)
    )
    for body, ward, perms, scope in rows:
        if ACT in perms and (scope == "state" or (body in (None, g.local_body_code) and ward in (None, g.ward_code))):
            return True
    return False


def _transfer(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    _needs(comment, "transfer")
    body = a.to_local_body or g.local_body_code
    code = a.to_category or g.category_code
    if body == g.local_body_code and code == g.category_code:
        raise _error(["to_category"], "name another department's category or another local body to transfer to")
    target = body_place(session, body)
    if target.state.code != g.state_code:
        raise _error(["to_local_body"], f"{body!r} is not a local body of {g.state_code!r}", "enum")
    new = get_category(session, body, code)
    data = {"from_local_body": g.local_body_code, "from_category": g.category_code, "to_local_body": body, "to_category": code}
    from_body, from_dept = g.local_body_code, g.department
    if body != g.local_body_code:
        g.ward_code = None
    g.local_body_code, g.category_code, g.department, g.public = body, new.code, new.department, new.public
    _CATEGORIES[g] = new
    g.level = 1
    g.extended = False
    level = new.level(1)
    _enter(session, as_service(new), g, ASSIGNED, now)
    engine.assign_level(session, g, role=level["role"], days=level["days"], now=now)

    def event(**kw: Any) -> events.Transferred:
        return events.Transferred(**kw, from_local_body=from_body, from_department=from_dept)

    return data, event


def _interim(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    _needs(comment, "interim_reply")
    extended = False
    data: dict[str, Any] = {}
    if a.due_on is not None:
        if g.state_due_at is None or a.due_on <= g.state_due_at:
            raise _error(["due_on"], "a new due time extends the level's time: it comes after the current due time")
        limit = (g.state_due_at or now) + timedelta(days=int(c.level(g.level)["days"]) * 2)
        if a.due_on > limit:
            raise _error(["due_on"], f"the level's time may be extended once by at most its length again, to {limit.date()}")
        if g.extended:
            raise _error(["due_on"], "the level's time was extended already; it escalates when the new date passes")
        data = {"due_was": g.state_due_at.isoformat(), "due_on": a.due_on.isoformat()}
        g.state_due_at = a.due_on
        g.extended = extended = True

    def event(**kw: Any) -> events.InterimReplied:
        return events.InterimReplied(**kw, extended=extended)

    return data or None, event


def _resolve(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    _needs(comment, "resolve")
    if c.resolution_photo and a.photo is None:
        raise _error(["photo"], f"resolving a {c.code!r} grievance needs a photo of the work done", "missing")
    if a.photo is not None:
        _store_photo(session, g, a.photo, "resolution", p.user_id)
    _enter(session, as_service(c), g, RESOLVED, now)
    g.resolution_note = comment
    g.resolved_at = now
    g.is_open = False
    g.state_due_at = None
    g.rating = None
    g.rating_comment = None
    return None, events.Resolved


def _confirm(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    _close(g, now, "closed")
    return None, events.Closed


def _close(g: Grievance, now: datetime, outcome: str) -> None:
    g.state = CLOSED
    g.state_entered_at = now
    g.is_open = False
    g.outcome = outcome
    g.decided_at = now
    g.state_due_at = None
    g.assigned_role = None
    g.assigned_to_id = None


def _up_a_level(session: Session, g: Grievance, c: Category, now: datetime) -> int:
    g.level = min(g.level + 1, len(c.levels))
    level = c.level(g.level)
    g.is_open = True
    g.outcome = None
    g.decided_at = None
    g.extended = False
    g.state = ASSIGNED
    g.state_entered_at = now
    engine.assign_level(session, g, role=level["role"], days=level["days"], now=now)
    return g.level


def _reopen(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    _needs(comment, "reopen")
    g.reopen_count += 1
    return {"level": _up_a_level(session, g, c, now)}, events.Reopened


def _rate(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    if a.rating is None or isinstance(a.rating, bool) or not 1 <= a.rating <= 5:
        raise _error(["rating"], "rate from 1 (very poor) to 5 (very good)", "missing" if a.rating is None else "value_error")
    g.rating = a.rating
    g.rating_comment = comment
    poor = a.rating < int(c.settings.get("poor_rating_below", 3))
    data: dict[str, Any] = {"rating": a.rating, "poor": poor}
    emit(session, events.Rated(grievance=g, at=now, rating=a.rating, poor=poor))
    if poor:
        g.appeal_level += 1
        data["level"] = _up_a_level(session, g, c, now)
        emit(session, events.Appealed(grievance=g, at=now))
        return data, None
    if g.state == RESOLVED:
        _close(g, now, "closed")
        return data, events.Closed
    return data, None


def _merge(session: Session, p: Principal, g: Grievance, a: Act, comment: str | None, c: Category, now: datetime) -> Any:
    if not a.into:
        raise _error(["into"], "name the grievance this one duplicates", "missing")
    into = session.scalar(select(Grievance).where(Grievance.number == a.into))
    if into is None or into.local_body_code != g.local_body_code:
        raise _error(["into"], f"no grievance {a.into!r} at {g.local_body_code}", "enum")
    if into.id == g.id or into.merged_into_id is not None or into.state not in OPEN_STATES:
        raise _error(["into"], f"{a.into!r} is not another open grievance to merge into")
    g.merged_into_id = into.id
    _close(g, now, MERGED)
    emit(session, events.Merged(grievance=g, at=now, into=into))
    return {"into": into.number}, events.Closed


_HANDLERS: dict[str, Handler] = {
    "start": _start,
    "assign": _assign,
    "transfer": _transfer,
    "interim_reply": _interim,
    "resolve": _resolve,
    "confirm": _confirm,
    "reopen": _reopen,
    "rate": _rate,
    "merge": _merge,
}


def caller(session: Session, principal: Principal, local_body_code: str, mobile: str) -> str:
    """The citizen a call-centre operator or counter clerk files for, found (or registered) by mobile number."""
    place = body_place(session, local_body_code)
    if not principal.may(FILE, state_code=place.state.code, local_body_code=place.body.code):
        raise Forbidden(f"filing for a caller at {place.body.code} needs {FILE!r} there")
    runtime = runtime_of(session)
    try:
        number = identity.normalise_mobile(mobile)
    except Invalid as exc:
        raise _error(["caller_mobile"], "not an Indian mobile number (10 digits, starting 6 to 9)") from exc
    index = identity.mobile_index(runtime, place.state.code, number)
    user = session.scalar(select(User).where(User.mobile_index == index))
    if user is None:
        user = User(
            kind="citizen",
            state_code=place.state.code,
            mobile_index=index,
            mobile_sealed=runtime.cipher.encrypt(number, context="mobile"),
            language=place.state.languages[0],
        )
        session.add(user)
        session.flush()
        session.add(RoleAssignment(user_id=user.id, state_code=place.state.code, role_code="citizen"))
        session.flush()
    if user.kind != "citizen" or not user.is_active:
        raise _error(["caller_mobile"], "that number belongs to no active citizen account")
    return user.id


def add_photo(session: Session, principal: Principal, number: str, photo: Photo, *, now: datetime) -> Grievance:
    """The citizen adds a photo of the problem while the grievance is open (at most five)."""
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None or g.citizen_id != principal.user_id:
        raise NotFound(f"no grievance {number!r} of yours")
    if g.state not in OPEN_STATES:
        raise engine.NotAllowedNow(f"the grievance is {g.state}; photos are added while it is open")
    count = session.scalar(select(func.count()).where(GrievancePhoto.grievance_id == g.id, GrievancePhoto.kind == "report"))
    if (count or 0) >= MAX_PHOTOS:
        raise Conflict(f"a grievance has at most {MAX_PHOTOS} photos")
    _store_photo(session, g, photo, "report", principal.user_id)
    g.updated_at = now
    session.flush()
    return g


def field_officers(session: Session, principal: Principal, bodies: set[str]) -> list[User]:
    """Active officers of the principal's state who act on grievances at one of these local bodies (or state-wide):
    whom the inbox offers for a bulk assignment. Each assignment still checks its own grievance's place."""
    if not bodies or not principal.has(ACT):
        return []
    rows = session.execute(
        select(User, RoleAssignment.local_body_code, Role.permissions)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .join(Role, (Role.state_code == RoleAssignment.state_code) & (Role.code == RoleAssignment.role_code))
        .where(
            User.kind == "officer",
            User.is_active.is_(True),
            RoleAssignment.state_code == principal.state_code,
            (RoleAssignment.local_body_code.in_(sorted(bodies))) | (Role.scope == "state"),
        )
        .order_by(User.username)
    )
    found: dict[str, User] = {}
    for user, _body, permissions in rows:
        if ACT in permissions:
            found.setdefault(user.id, user)
    return list(found.values())


def bulk_assign(session: Session, principal: Principal, numbers_: list[str], to_user: str, *, now: datetime) -> list[Grievance]:
    """Assign several grievances to one field officer: all or none."""
    return [act(session, principal, n, Act("assign", to_user=to_user), now=now) for n in numbers_]


def me_too(session: Session, principal: Principal, number: str, *, now: datetime) -> Grievance:
    """A citizen supports an open public grievance instead of filing it again (once each)."""
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None or not g.public:
        raise NotFound(f"no public grievance {number!r}")
    if principal.kind != "citizen":
        raise Forbidden("only citizens add 'me too'")
    if g.citizen_id == principal.user_id:
        raise Conflict("you filed this grievance")
    if g.state not in OPEN_STATES:
        raise engine.NotAllowedNow(f"the grievance is {g.state}; 'me too' is for open grievances")
    exists = session.scalar(
        select(GrievanceSupporter.user_id).where(
            GrievanceSupporter.grievance_id == g.id, GrievanceSupporter.user_id == principal.user_id
        )
    )
    if exists is not None:
        raise Conflict("you have already said 'me too' on this grievance")
    session.add(GrievanceSupporter(grievance_id=g.id, user_id=principal.user_id, at=now))
    session.flush()
    # Counted in the database, not read-modify-write: parallel supporters never lose a count.
    session.execute(
        update(Grievance).where(Grievance.id == g.id).values(supporters=Grievance.supporters + 1),
        execution_options={"synchronize_session": False},
    )
    session.refresh(g, ["supporters", "version"])
    emit(session, events.Supported(grievance=g, at=now))
    return g


def similar_open(
    session: Session, local_body_code: str, category: str, ward_code: str | None, *, limit: int = 10
) -> list[Grievance]:
    """Open public grievances of the category in the ward (the portal shows them before a new one is filed)."""
    q = select(Grievance).where(
        Grievance.local_body_code == local_body_code,
        Grievance.category_code == category,
        Grievance.public.is_(True),
        Grievance.state.in_(OPEN_STATES),
    )
    if ward_code is not None:
        q = q.where(Grievance.ward_code == ward_code)
    return list(session.scalars(q.order_by(Grievance.created_at.desc()).limit(limit)))


# --- the sweep: levels whose time passed, resolutions nobody answered --------------------------


def sweep(session: Session, now: datetime, *, limit: int = 500) -> dict[str, int]:
    """Move grievances whose level's time passed one level up; close resolved ones whose window passed."""
    counts = {"escalated": 0, "overdue": 0, "closed": 0}
    for g in engine.overdue(session, Grievance, now, limit=limit):
        c = category_of(session, g)
        from_level = g.level
        if g.level < len(c.levels):
            nxt = c.level(g.level + 1)
            engine.escalate_level(session, as_service(c), g, level=g.level + 1, role=nxt["role"], days=nxt["days"], now=now)
            g.extended = False
            counts["escalated"] += 1
            emit(session, events.Escalated(grievance=g, at=now, from_level=from_level, to_level=g.level))
        else:
            engine.escalate_level(session, as_service(c), g, level=None, role=None, days=None, now=now)
            counts["overdue"] += 1
            emit(session, events.Escalated(grievance=g, at=now, from_level=from_level, to_level=None))
    states = list(session.scalars(select(GrievanceCategory.state_code).distinct()))
    for state in states:
        cats = categories(session, state)
        if not cats:
            continue
        cutoff = now - timedelta(days=int(cats[0].settings.get("close_after_days", 7)))
        resolved = session.scalars(
            select(Grievance)
            .where(Grievance.state_code == state, Grievance.state == RESOLVED, Grievance.resolved_at < cutoff)
            .order_by(Grievance.resolved_at)
            .limit(limit)
        )
        for g in list(resolved):
            c = category_of(session, g)
            _close(g, now, "closed")
            engine.record_step(
                session, as_service(c), g, action="close", to_state=CLOSED, actor_id=None, actor_role=SYSTEM,  # type: ignore[arg-type]
                comment="the citizen did not answer within the window after resolution", now=now,
            )  # fmt: skip
            session.flush()
            emit(session, events.Closed(grievance=g, at=now, action="close", role=SYSTEM, from_state=RESOLVED))
            counts["closed"] += 1
    session.flush()
    return counts


def count_open(session: Session, local_body_code: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Grievance)
            .where(Grievance.local_body_code == local_body_code, Grievance.is_open.is_(True))
        )
        or 0
    )

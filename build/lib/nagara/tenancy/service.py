"""Tenancy operations: load a pack into the database, read tenants, effective settings."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.calendar import WorkingCalendar
from nagara.kit.errors import NotFound
from nagara.tenancy.models import District, LocalBody, Role, State, Ward
from nagara.tenancy.packs import Pack
from nagara.tenancy.packs_merge import deep_merge


def lb_code(state: str, local_body: str) -> str:
    return f"{state}.{local_body}"


def ward_code(local_body_code: str, number: int) -> str:
    return f"{local_body_code}.w{number}"


def load_pack(session: Session, pack: Pack) -> dict[str, int]:
    """Insert or update every row the pack defines. Flushes; the caller's unit of work commits.

    Rows the pack no longer lists are kept (records may point at them) and counted as stale.
    """
    st = pack.code
    counts = {"districts": 0, "local_bodies": 0, "wards": 0, "roles": 0}
    state = session.get(State, st) or State(code=st)
    state.lgd_code = pack.meta["lgd_code"]
    state.name = pack.meta["name"]
    state.languages = pack.meta["languages"]
    state.timezone = pack.meta["timezone"]
    state.ledger_origin = pack.meta.get("ledger_origin")
    state.defaults = pack.meta.get("defaults", {})
    state.calendar = pack.calendar
    state.pack_digest = pack.digest
    session.add(state)
    session.flush()

    for d in pack.districts:
        code = f"{st}.{d['code']}"
        row = session.get(District, code) or District(code=code, state_code=st)
        row.lgd_code, row.name = d["lgd_code"], d["name"]
        session.add(row)
        counts["districts"] += 1
    session.flush()

    for b in pack.local_bodies:
        code = lb_code(st, b["code"])
        body = session.get(LocalBody, code) or LocalBody(code=code, state_code=st)
        body.district_code = f"{st}.{b['district']}"
        body.lgd_code = b["lgd_code"]
        body.type = b["type"]
        body.local_type_name = b.get("local_type_name")
        body.name = b["name"]
        body.parent_code = lb_code(st, b["parent"]) if b.get("parent") else None
        body.overrides = b.get("overrides", {})
        session.add(body)
        counts["local_bodies"] += 1
    session.flush()

    for short_code, wards in pack.wards.items():
        body_code = lb_code(st, short_code)
        for w in wards:
            code = ward_code(body_code, w["number"])
            ward = session.get(Ward, code) or Ward(code=code, local_body_code=body_code, number=w["number"])
            ward.name = w["name"]
            session.add(ward)
            counts["wards"] += 1

    counts["services"] = _load_services(session, pack)

    for r in pack.roles:
        role = session.get(Role, (st, r["code"])) or Role(state_code=st, code=r["code"])
        role.name, role.scope, role.permissions = r["name"], r["scope"], r["permissions"]
        session.add(role)
        counts["roles"] += 1
    session.flush()
    return counts


def _load_services(session: Session, pack: Pack) -> int:
    """A new version for each service whose definition changed; applications keep theirs."""
    from nagara.catalog.models import ServiceVersion

    for code, definition in pack.services.items():
        digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()
        versions = list(
            session.scalars(select(ServiceVersion).where(ServiceVersion.state_code == pack.code, ServiceVersion.code == code))
        )
        same = next((v for v in versions if v.digest == digest), None)
        if same is not None and same.is_current:
            continue
        for v in versions:
            v.is_current = False
        if same is not None:  # the pack went back to an earlier definition
            same.is_current = True
            continue
        session.add(
            ServiceVersion(
                state_code=pack.code,
                code=code,
                version=max((v.version for v in versions), default=0) + 1,
                digest=digest,
                definition=json.loads(json.dumps(definition, default=str)),
                is_current=True,
            )
        )
    session.flush()
    return len(pack.services)


def get_state(session: Session, code: str) -> State:
    state = session.get(State, code)
    if state is None:
        known = ", ".join(session.scalars(select(State.code).order_by(State.code)))
        raise NotFound(f"no state {code!r}; states on this node: {known or 'none'}")
    return state


def list_states(session: Session) -> list[State]:
    return list(session.scalars(select(State).order_by(State.code)))


def get_local_body(session: Session, code: str) -> LocalBody:
    body = session.get(LocalBody, code)
    if body is None:
        raise NotFound(f"no local body {code!r}; local body codes look like 'kl.tvm-corp'")
    return body


def list_local_bodies(
    session: Session, state_code: str, *, type_: str | None = None, district: str | None = None
) -> list[LocalBody]:
    get_state(session, state_code)
    query = select(LocalBody).where(LocalBody.state_code == state_code)
    if type_:
        query = query.where(LocalBody.type == type_)
    if district:
        query = query.where(LocalBody.district_code == f"{state_code}.{district}")
    return list(session.scalars(query.order_by(LocalBody.code)))


def list_districts(session: Session, state_code: str) -> list[District]:
    get_state(session, state_code)
    return list(session.scalars(select(District).where(District.state_code == state_code).order_by(District.code)))


def list_wards(session: Session, local_body_code: str) -> list[Ward]:
    get_local_body(session, local_body_code)
    return list(session.scalars(select(Ward).where(Ward.local_body_code == local_body_code).order_by(Ward.number)))


def effective_settings(session: Session, local_body_code: str) -> dict[str, Any]:
    """The state's definitions with this local body's overrides merged on top."""
    body = get_local_body(session, local_body_code)
    state = get_state(session, body.state_code)
    base = dict(state.defaults or {})
    base["calendar"] = state.calendar or {}
    return deep_merge(base, body.overrides or {})


_CALENDARS: dict[tuple[str, str, str], WorkingCalendar] = {}


def working_calendar(session: Session, local_body_code: str) -> WorkingCalendar:
    """The local body's working days; cached per process until its state's pack changes."""
    body = get_local_body(session, local_body_code)
    state = get_state(session, body.state_code)
    key = (session.get_bind().engine.url.render_as_string(), local_body_code, state.pack_digest)
    calendar = _CALENDARS.get(key)
    if calendar is None:
        calendar = WorkingCalendar.from_config(effective_settings(session, local_body_code)["calendar"])
        _CALENDARS[key] = calendar
    return calendar

"""The data principal's view of who read their personal data (DPDP Act 2023 s.11).

The entries come from :mod:`nagara.audit.access`; a citizen sees the role, the local body and
the purpose of each read, never the officer's name or id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.audit import access
from nagara.catalog import service as catalog
from nagara.kit.access import Principal, require
from nagara.kit.errors import NotFound
from nagara.tenancy.context import body_place
from nagara.tenancy.models import Role

# A citizen reads their own access log under the permission to read their own profile.
OWN_DATA = "identity:profile:read"


@dataclass(frozen=True)
class AccessSeen:
    at: datetime
    role: str
    role_name: dict[str, str]
    local_body: str | None
    local_body_name: dict[str, str]
    record_type: str
    record: str
    purpose: str
    purpose_name: dict[str, str]
    action: str
    reason: str | None


def _names(session: Session, state_codes: set[str]) -> dict[tuple[str, str], dict[str, str]]:
    if not state_codes:
        return {}
    rows = session.scalars(select(Role).where(Role.state_code.in_(sorted(state_codes))))
    return {(r.state_code, r.code): r.name for r in rows}


def _purpose_name(session: Session, local_body_code: str | None, state_code: str, code: str) -> dict[str, str]:
    try:
        return dict(catalog.get_service(session, local_body_code or state_code, code).definition["name"])
    except NotFound:  # a service since withdrawn: its code is what is left to show
        return {"en": code}


def access_log(session: Session, principal: Principal, *, limit: int = 200, offset: int = 0) -> list[AccessSeen]:
    """Who (role and place) read the signed-in person's data, for what purpose, newest first."""
    require(principal, OWN_DATA, owner_id=principal.user_id, state_code=principal.state_code)
    entries = access.entries_about(session, principal.user_id, limit=limit, offset=offset)
    roles = _names(session, {e.state_code for e in entries})
    purposes: dict[tuple[str | None, str, str], dict[str, str]] = {}
    bodies: dict[str, dict[str, str]] = {}
    out = []
    for e in entries:
        key = (e.local_body_code, e.state_code, e.purpose)
        if key not in purposes:
            purposes[key] = _purpose_name(session, e.local_body_code, e.state_code, e.purpose)
        if e.local_body_code and e.local_body_code not in bodies:
            bodies[e.local_body_code] = dict(body_place(session, e.local_body_code).body.name)
        out.append(
            AccessSeen(
                at=e.at,
                role=e.role,
                role_name=roles.get((e.state_code, e.role), {"en": e.role}),
                local_body=e.local_body_code,
                local_body_name=bodies.get(e.local_body_code or "", {}),
                record_type=e.record_type,
                record=e.record_ref,
                purpose=e.purpose,
                purpose_name=purposes[key],
                action=e.action,
                reason=e.reason,
            )
        )
    return out

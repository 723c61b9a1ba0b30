"""The data principal's view of who read their personal data (DPDP Act 2023 s.11).

The entries come from :mod:`nagara.audit.access`; a citizen sees the role, the local body and
the purpose of each read, never the officer's name or id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications import service as applications
from nagara.applications.data import unseal_data
from nagara.applications.models import Application
from nagara.audit import access
from nagara.audit import service as audit
from nagara.catalog import service as catalog
from nagara.catalog.definitions import DRAFT
from nagara.kit.access import Principal, require
from nagara.kit.errors import Conflict, NotFound
from nagara.privacy import retention
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


# --- erasure on request (DPDP Act s.12(3)): what no law keeps -----------------------------------

ERASABLE = "erasable"  # a draft: its answers and documents go at once
WITHDRAW_FIRST = "withdraw_first"  # submitted and undecided: the office is deciding on it
KEPT_BY_LAW = "kept_by_law"  # decided: the register entry the law requires


class NotErasable(Conflict):
    """The law keeps it (``KEPT_BY_LAW``) or the office is deciding on it (``WITHDRAW_FIRST``)."""

    def __init__(self, detail: str, why: str) -> None:
        super().__init__(detail)
        self.why = why


@dataclass(frozen=True)
class ErasureItem:
    number: str
    service: str
    service_name: dict[str, str]
    status: str  # ERASABLE | WITHDRAW_FIRST | KEPT_BY_LAW
    empty: bool  # a draft already emptied


def _service_name(session: Session, app: Application) -> dict[str, str]:
    return dict(applications.service_for(session, app).definition["name"])


def _status(app: Application) -> str:
    if app.state == DRAFT:
        return ERASABLE
    return WITHDRAW_FIRST if app.is_open else KEPT_BY_LAW


def erasure_options(session: Session, principal: Principal) -> list[ErasureItem]:
    """Each of the citizen's applications, with whether it can be erased now and, if not, why."""
    require(principal, OWN_DATA, owner_id=principal.user_id, state_code=principal.state_code)
    query = select(Application).where(Application.applicant_id == principal.user_id).order_by(Application.created_at.desc())
    out = []
    for app in session.scalars(query):
        status = _status(app)
        out.append(
            ErasureItem(
                number=app.number,
                service=app.service_code,
                service_name=_service_name(session, app),
                status=status,
                empty=status == ERASABLE and not unseal_data(app),
            )
        )
    return out


def erase_application(session: Session, principal: Principal, number: str) -> ErasureItem:
    """Erase a draft of one's own at once; refuse with the reason what the law keeps or the office decides."""
    require(principal, OWN_DATA, owner_id=principal.user_id, state_code=principal.state_code)
    app = session.scalar(
        select(Application).where(Application.number == number, Application.applicant_id == principal.user_id).with_for_update()
    )
    if app is None:
        raise NotFound(f"no application {number!r} of yours")
    status = _status(app)
    if status == WITHDRAW_FIRST:
        raise NotErasable(
            f"application {number} is being decided: withdraw it first; what is decided is kept as the law requires", status
        )
    if status == KEPT_BY_LAW:
        raise NotErasable(
            f"application {number} was decided: it is a register entry the law of the service requires to be kept, "
            "so it cannot be erased; a wrong entry is corrected through the service",
            status,
        )
    retention.empty_draft(session, app)
    audit.record(
        session, "privacy.erasure_request", entity_type="applications", entity_id=app.id, tenant_code=app.local_body_code
    )
    session.flush()
    return ErasureItem(
        number=app.number, service=app.service_code, service_name=_service_name(session, app), status=status, empty=True
    )

"""Reading the catalogue: which services a tenant offers, with a local body's overrides applied."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog.definitions import Service, with_overrides
from nagara.catalog.models import ServiceVersion
from nagara.kit.errors import NotFound
from nagara.tenancy.models import LocalBody, State


def resolve_tenant(session: Session, tenant: str) -> tuple[State, LocalBody | None]:
    """``kl`` is a state; ``kl.tvm-corp`` a local body."""
    state_code = tenant.split(".", 1)[0]
    state = session.get(State, state_code)
    if state is None:
        raise NotFound(f"no tenant {tenant!r}; tenants look like 'kl' (a state) or 'kl.tvm-corp' (a local body)")
    if "." not in tenant:
        return state, None
    body = session.get(LocalBody, tenant)
    if body is None:
        raise NotFound(f"no local body {tenant!r} in {state_code!r}")
    return state, body


def _overrides(body: LocalBody | None, code: str) -> dict[str, Any] | None:
    if body is None:
        return None
    services = (body.overrides or {}).get("services") or {}
    override = services.get(code)
    return override if isinstance(override, dict) else None


def list_services(session: Session, tenant: str) -> list[Service]:
    state, body = resolve_tenant(session, tenant)
    rows = session.scalars(
        select(ServiceVersion)
        .where(ServiceVersion.state_code == state.code, ServiceVersion.is_current.is_(True))
        .order_by(ServiceVersion.code)
    )
    out = []
    for row in rows:
        if body is not None and body.type not in row.definition["offered_by"]:
            continue
        out.append(Service(state.code, with_overrides(row.definition, _overrides(body, row.code)), row.id))
    return out


def get_service(session: Session, tenant: str, code: str) -> Service:
    state, body = resolve_tenant(session, tenant)
    row = session.scalar(
        select(ServiceVersion).where(
            ServiceVersion.state_code == state.code, ServiceVersion.code == code, ServiceVersion.is_current.is_(True)
        )
    )
    if row is None:
        known = [s.code for s in list_services(session, tenant)]
        raise NotFound(f"no service {code!r} at {tenant!r}; services here: {', '.join(known) or 'none'}")
    if body is not None and body.type not in row.definition["offered_by"]:
        raise NotFound(f"{tenant!r} (a {body.type.replace('_', ' ')}) does not offer {code!r}")
    return Service(state.code, with_overrides(row.definition, _overrides(body, code)), row.id)


def service_of(session: Session, version_id: int, local_body_code: str) -> Service:
    """The definition an application was made under, with its local body's overrides."""
    row = session.get(ServiceVersion, version_id)
    if row is None:
        raise NotFound("the application's service version is missing")
    body = session.get(LocalBody, local_body_code)
    return Service(row.state_code, with_overrides(row.definition, _overrides(body, row.code)), row.id)

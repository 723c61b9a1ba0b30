"""Reading the catalogue: which services a tenant offers, with a local body's overrides applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog.definitions import Service, with_overrides
from nagara.catalog.models import ServiceVersion
from nagara.kit.access import Principal, require
from nagara.kit.errors import Invalid, NotFound
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


# Service versions never change once written (a changed definition is a new row), so each
# process keeps the parsed definitions it has read: submissions stop re-reading 10 kB of JSON.
_DEFINITIONS: dict[tuple[str, int], dict[str, Any]] = {}


def _definition(session: Session, version_id: int) -> tuple[str, str, dict[str, Any]]:
    key = (session.get_bind().engine.url.render_as_string(), version_id)  # ids are per database
    cached = _DEFINITIONS.get(key)
    if cached is not None:
        return cached["__state"], cached["code"], cached
    row = session.get(ServiceVersion, version_id)
    if row is None:
        raise NotFound("the application's service version is missing")
    definition = dict(row.definition)
    definition["__state"] = row.state_code
    _DEFINITIONS[key] = definition
    return row.state_code, row.code, definition


def _public(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k != "__state"}


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
    version_id = session.scalar(
        select(ServiceVersion.id).where(
            ServiceVersion.state_code == state.code, ServiceVersion.code == code, ServiceVersion.is_current.is_(True)
        )
    )
    if version_id is None:
        known = [s.code for s in list_services(session, tenant)]
        raise NotFound(f"no service {code!r} at {tenant!r}; services here: {', '.join(known) or 'none'}")
    _state, _code, definition = _definition(session, version_id)
    if body is not None and body.type not in definition["offered_by"]:
        raise NotFound(f"{tenant!r} (a {body.type.replace('_', ' ')}) does not offer {code!r}")
    return Service(state.code, with_overrides(_public(definition), _overrides(body, code)), version_id)


def service_of(session: Session, version_id: int, local_body_code: str) -> Service:
    """The definition an application was made under, with its local body's overrides."""
    state_code, code, definition = _definition(session, version_id)
    body = session.get(LocalBody, local_body_code)
    return Service(state_code, with_overrides(_public(definition), _overrides(body, code)), version_id)


def override_paths(override: Any, prefix: str = "") -> list[str]:
    """The dotted paths an override sets; a list is replaced whole, so its path is the leaf."""
    if not isinstance(override, dict):
        return [prefix] if prefix else []
    paths: list[str] = []
    for key, value in override.items():
        paths.extend(override_paths(value, f"{prefix}.{key}" if prefix else str(key)))
    return paths


@dataclass(frozen=True)
class ServiceSetting:
    """A service as a local body runs it: the state's definition with the body's overrides."""

    service: Service
    version: int
    offered: bool
    overridden: list[str]


def service_settings(session: Session, principal: Principal, local_body_code: str) -> list[ServiceSetting]:
    """Every current service of the body's state, whether the body offers it, and what it overrides.

    For administrators (``tenancy:settings:read`` over the body): fees, time limits and the
    local body's own changes to them, as new applications there will get them.
    """
    state, body = resolve_tenant(session, local_body_code)
    if body is None:
        msg = f"{local_body_code!r} is a state; give one of its local bodies, such as '{state.code}.tvm-corp'"
        raise Invalid(msg, [{"loc": ["path", "code"], "msg": msg, "type": "value_error"}])
    require(principal, "tenancy:settings:read", state_code=state.code, local_body_code=body.code)
    rows = session.scalars(
        select(ServiceVersion)
        .where(ServiceVersion.state_code == state.code, ServiceVersion.is_current.is_(True))
        .order_by(ServiceVersion.code)
    )
    out = []
    for row in rows:
        override = _overrides(body, row.code)
        out.append(
            ServiceSetting(
                service=Service(state.code, with_overrides(row.definition, override), row.id),
                version=row.version,
                offered=body.type in row.definition["offered_by"],
                overridden=override_paths(override),
            )
        )
    return out

"""Reading the catalogue: which services a tenant offers, with a local body's overrides applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.catalog.definitions import Service, with_overrides
from nagara.catalog.models import ServiceVersion
from nagara.kit.access import Principal, require
from nagara.kit.errors import Invalid, NotFound
from nagara.tenancy import context
from nagara.tenancy.context import LocalBodyInfo, Place, StateInfo


def resolve_tenant(session: Session, tenant: str) -> tuple[StateInfo, LocalBodyInfo | None]:
    """``kl`` is a state; ``kl.tvm-corp`` a local body (read through the tenancy context)."""
    place = context.place(session, tenant)
    return place.state, place.body


@dataclass(frozen=True)
class _Version:
    """A service version as written: rows never change (a changed definition is a new row)."""

    id: int
    state_code: str
    code: str
    version: int
    definition: dict[str, Any]  # shared by every reader in the process: never edited
    certificate_template: dict[str, Any] | None
    certificate_layout: str | None

    @classmethod
    def of(cls, row: ServiceVersion) -> _Version:
        return cls(
            row.id, row.state_code, row.code, row.version, row.definition, row.certificate_template, row.certificate_layout
        )


def _keep(session: Session, row: ServiceVersion) -> _Version:
    return context.immutable(session, ("catalog.version", row.id), lambda: _Version.of(row))


def _version(session: Session, version_id: int) -> _Version:
    def load() -> _Version:
        row = session.get(ServiceVersion, version_id)
        if row is None:
            raise NotFound("the application's service version is missing")
        return _Version.of(row)

    return context.immutable(session, ("catalog.version", version_id), load)


def _current(session: Session, state_code: str) -> Mapping[str, int]:
    """The current version id of each of the state's services, by code; kept until the state's pack changes."""

    def read() -> Mapping[str, int]:
        rows = session.scalars(
            select(ServiceVersion)
            .where(ServiceVersion.state_code == state_code, ServiceVersion.is_current.is_(True))
            .order_by(ServiceVersion.code)
        )
        return MappingProxyType({row.code: _keep(session, row).id for row in rows})

    return context.for_pack(session, state_code, "catalog.current", read)


def _service(session: Session, place: Place, version: _Version) -> Service:
    """The version's definition with the place's overrides; a merged definition is kept until the pack changes."""
    override = place.service_overrides(version.code)
    if override is None:
        return Service(version.state_code, version.definition, version.id)
    key = ("catalog.merged", place.code, version.id)
    merged = context.for_pack(session, place.state.code, key, lambda: with_overrides(version.definition, override))
    return Service(version.state_code, merged, version.id)


def _offered(place: Place, version: _Version) -> bool:
    return place.body is None or place.body.type in version.definition["offered_by"]


def list_services(session: Session, tenant: str) -> list[Service]:
    place = context.place(session, tenant)
    versions = [_version(session, version_id) for version_id in _current(session, place.state.code).values()]
    return [_service(session, place, v) for v in versions if _offered(place, v)]


def _withdrawn(session: Session, state_code: str, code: str) -> bool:
    """A service that was loaded once and that a later load of the pack withdrew."""
    found = session.scalar(
        select(ServiceVersion.id).where(ServiceVersion.state_code == state_code, ServiceVersion.code == code).limit(1)
    )
    return found is not None


def get_service(session: Session, tenant: str, code: str) -> Service:
    place = context.place(session, tenant)
    version_id = _current(session, place.state.code).get(code)
    if version_id is None:
        if _withdrawn(session, place.state.code, code):
            raise NotFound(
                f"the service {code!r} was withdrawn from the {place.state.code} pack and is no longer offered at "
                f"{tenant!r}; applications already made for it go on"
            )
        known = [s.code for s in list_services(session, tenant)]
        raise NotFound(f"no service {code!r} at {tenant!r}; services here: {', '.join(known) or 'none'}")
    version = _version(session, version_id)
    if place.body is not None and not _offered(place, version):
        raise NotFound(f"{tenant!r} (a {place.body.type.replace('_', ' ')}) does not offer {code!r}")
    return _service(session, place, version)


def service_of(session: Session, version_id: int, local_body_code: str) -> Service:
    """The definition an application was made under, with its local body's overrides."""
    return _service(session, context.body_place(session, local_body_code), _version(session, version_id))


def services_of(session: Session, wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Service]:
    """The definitions of many applications at once, by (version id, local body code), as :func:`service_of`
    gives each: the versions and the places not yet kept are read in one query each."""
    pairs = set(wanted)
    missing = sorted({v for v, _ in pairs if not context.kept(session, ("catalog.version", v))})
    if missing:
        for row in session.scalars(select(ServiceVersion).where(ServiceVersion.id.in_(missing))):
            _keep(session, row)
    places = context.body_places(session, {body for _, body in pairs})
    out: dict[tuple[int, str], Service] = {}
    for version_id, body in pairs:
        place = places.get(body) or context.body_place(session, body)  # an unknown body: its NotFound
        out[version_id, body] = _service(session, place, _version(session, version_id))
    return out


def certificate_template(session: Session, version_id: int) -> tuple[dict[str, Any], str | None]:
    """The template of a service version's output and the pack's certificate layout (or None), as loaded with it.

    Raises :class:`LookupError` when the version has none: it has no output, or it was loaded
    before versions kept their templates and no load has given it one since.
    """
    version = _version(session, version_id)
    if version.certificate_template is None:
        output = version.definition.get("output") or {}
        raise LookupError(
            f"version {version.version} of service {version.code!r} ({version.state_code}) has no stored certificate "
            f"template for output type {output.get('type')!r}: load the pack again (nagara pack load) with "
            f"certificates/{output.get('type')}.yaml in it"
        )
    return version.certificate_template, version.certificate_layout


def version_number(session: Session, version_id: int) -> int:
    """The pack's number of a service version (1, 2, ... for each changed definition)."""
    return _version(session, version_id).version


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
    place = context.place(session, local_body_code)
    if place.body is None:
        msg = f"{local_body_code!r} is a state; give one of its local bodies, such as '{place.state.code}.tvm-corp'"
        raise Invalid(msg, [{"loc": ["path", "code"], "msg": msg, "type": "value_error"}])
    require(principal, "tenancy:settings:read", state_code=place.state.code, local_body_code=place.body.code)
    out = []
    for version_id in _current(session, place.state.code).values():
        version = _version(session, version_id)
        out.append(
            ServiceSetting(
                service=_service(session, place, version),
                version=version.version,
                offered=_offered(place, version),
                overridden=override_paths(place.service_overrides(version.code)),
            )
        )
    return out

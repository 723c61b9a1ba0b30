"""Tenancy operations: load a pack into the database, read tenants, effective settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.access import require
from nagara.kit.calendar import WorkingCalendar
from nagara.kit.db import utcnow
from nagara.kit.errors import NotFound
from nagara.runtime import runtime_of
from nagara.tenancy.context import body_place, invalidate, thaw
from nagara.tenancy.models import District, LocalBody, Role, State, Ward
from nagara.tenancy.packs import InvalidPack, Pack, PackError, ServiceChanges, discover, extras, read_pack, registered

if TYPE_CHECKING:
    from nagara.kit.access import Principal


def lb_code(state: str, local_body: str) -> str:
    return f"{state}.{local_body}"


def ward_code(local_body_code: str, number: int) -> str:
    return f"{local_body_code}.w{number}"


def load_pack(session: Session, pack: Pack) -> dict[str, int]:
    """Insert or update every row the pack defines. Flushes; the caller's unit of work commits, so a
    load is all or nothing.

    Places and roles the pack no longer lists are kept (records may point at them); services it no
    longer lists are withdrawn (``catalog.packs.load_services``). ``loaded_at`` moves whenever the
    load changes what is loaded: the pack's files (their digest) or its services.
    """
    parts = registered()  # before any write: never a pack without its services
    st = pack.code
    counts = {"districts": 0, "local_bodies": 0, "wards": 0, "roles": 0}
    existing = session.get(State, st)
    changes = parts.compare_services(session, pack) if existing is not None else None
    state = existing or State(code=st)
    if existing is None or existing.pack_digest != pack.digest or (changes is not None and changes.any):
        state.loaded_at = utcnow()
    state.pack_source = str(pack.directory.resolve())
    state.lgd_code = pack.meta["lgd_code"]
    state.name = pack.meta["name"]
    state.languages = pack.meta["languages"]
    state.timezone = pack.meta["timezone"]
    state.ledger_origin = pack.meta.get("ledger_origin")
    state.defaults = pack.meta.get("defaults", {})
    state.calendar = pack.calendar
    state.notifications = pack.notifications
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

    counts["services"] = parts.load_services(session, pack)
    for extra in extras():
        counts[extra.file.removesuffix(".yaml")] = extra.load(session, pack, pack.extras.get(extra.file))

    for r in pack.roles:
        role = session.get(Role, (st, r["code"])) or Role(state_code=st, code=r["code"])
        role.name, role.scope, role.permissions = r["name"], r["scope"], r["permissions"]
        session.add(role)
        counts["roles"] += 1
    session.flush()
    invalidate(session, st)
    return counts


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
    """The state's definitions with this local body's overrides merged on top (a fresh copy)."""
    settings: dict[str, Any] = thaw(body_place(session, local_body_code).settings)
    return settings


def working_calendar(session: Session, local_body_code: str) -> WorkingCalendar:
    """The local body's working days (from the tenancy context: read once, kept until its pack changes)."""
    return body_place(session, local_body_code).calendar


@dataclass(frozen=True)
class PackStatus:
    """The state's pack on disk, validated now, beside the one loaded into the database.

    ``in_sync`` is true only when the files on disk are the ones loaded (the same digest) and
    their services are the ones offered: nothing to add, withdraw or change. Otherwise the
    database still runs the loaded version, and ``services`` says what a load would change.
    """

    state_code: str
    directory: str | None
    loaded_from: str | None
    loaded_digest: str
    loaded_at: datetime
    valid: bool
    disk_digest: str | None
    errors: list[PackError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    services: ServiceChanges | None = None

    @property
    def in_sync(self) -> bool:
        return (
            self.valid
            and self.disk_digest == self.loaded_digest
            and self.services is not None
            and not self.services.any
        )


def _pack_directory(packs_dir: Path, state_code: str) -> Path | None:
    direct = packs_dir / state_code
    if (direct / "pack.yaml").is_file():
        return direct
    for directory in discover(packs_dir):
        try:
            if read_pack(directory).code == state_code:
                return directory
        except InvalidPack:
            continue
    return None


def pack_status(session: Session, principal: Principal, state_code: str) -> PackStatus:
    """Validate the state's pack folder (in ``NAGARA_PACKS_DIR``) with the same checks as ``nagara pack
    validate``, and compare it with what is loaded: the files' digest and each service."""

    state = get_state(session, state_code)
    require(principal, "tenancy:pack:read", state_code=state.code)
    loaded = (state.pack_source, state.pack_digest, state.loaded_at)
    directory = _pack_directory(Path(runtime_of(session).settings.packs_dir), state.code)
    if directory is None:
        error = PackError(str(runtime_of(session).settings.packs_dir), "", f"no folder holds the pack of {state.code!r}")
        return PackStatus(state.code, None, *loaded, valid=False, disk_digest=None, errors=[error])
    try:
        pack = read_pack(directory)
    except InvalidPack as exc:
        return PackStatus(state.code, str(directory), *loaded, valid=False, disk_digest=None, errors=exc.errors)
    counts = {
        "districts": len(pack.districts),
        "local_bodies": len(pack.local_bodies),
        "wards": sum(len(w) for w in pack.wards.values()),
        "roles": len(pack.roles),
        "services": len(pack.services),
    }
    changes = registered().compare_services(session, pack)
    return PackStatus(
        state.code, str(directory), *loaded, valid=True, disk_digest=pack.digest, counts=counts, services=changes
    )

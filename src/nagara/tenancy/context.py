"""The place of a request: a state or one of its local bodies, as plain frozen data.

``place(session, "kl.tvm-corp")`` gives the state (code, names, languages, time zone,
ledger origin, pack digest), the local body (code, names, type, district, LGD code,
overrides), the effective settings (the state's defaults and calendar with the body's
overrides merged) and the working calendar. A :class:`Place` holds no ORM rows: it is
immutable and shared between sessions and threads.

How it stays correct (see CONVENTIONS.md, "The place of a request"):

- Within a unit of work a place is read once and kept in its memo (``kit.db.memo``); it is dropped
  when the session's transaction ends, or by a rollback (then checked again).
- Across units of work each process keeps, per database and state, what the state's
  loaded pack determines, tagged with the pack's digest (``states.pack_digest``, set by
  every ``load_pack``). The first place of a state in each unit of work costs one
  primary-key read of that digest; a different digest (a pack loaded by this process or
  any other: ``nagara pack load``, another server) drops the state's entries and they
  are read again. Loading a pack also calls :func:`invalidate`, so this process drops
  them at once, even inside the loading unit of work.
- Values computed from a state's pack by higher layers (the catalogue's current service
  versions) are kept beside the places with :func:`for_pack`, and go when the pack
  changes; rows that never change once written (a service version by id) are kept per
  database with :func:`immutable`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.calendar import WorkingCalendar
from nagara.kit.db import memo
from nagara.kit.errors import NotFound
from nagara.tenancy.models import LocalBody, State

T = TypeVar("T")

DEFAULT_TIMEZONE = "Asia/Kolkata"
# A process keeps at most this many local bodies per state and database; beyond it the
# state's bodies are read again as they are asked for (Kerala has about 1,200).
MAX_BODIES_PER_STATE = 5000


# --- tenant codes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantCode:
    """``kl`` is a state; ``kl.tvm-corp`` a local body of it (``local_body`` is the whole code)."""

    state: str
    local_body: str | None

    @property
    def code(self) -> str:
        return self.local_body or self.state

    @property
    def short(self) -> str | None:
        """The body's part of its code (``tvm-corp``), as the pack names it."""
        return self.local_body.split(".", 1)[1] if self.local_body else None


def parse_tenant(code: str) -> TenantCode:
    """The one reading of a tenant code: the state is what comes before the first dot."""
    state, dot, _rest = code.partition(".")
    return TenantCode(state, code if dot else None)


# --- the frozen values ------------------------------------------------------------------------


def freeze(value: Any) -> Any:
    """JSON data made read-only: mappings become ``MappingProxyType``, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A fresh, mutable copy of frozen data (for JSON responses and for callers that edit it)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Mapping[str, Any]:
    """``packs_merge.deep_merge`` for frozen data: the parts an override leaves alone are shared, not copied.

    Mappings merge key by key; lists of holidays are added to, other values replaced.
    """
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merge(current, value)
        elif key == "holidays" and isinstance(value, tuple) and isinstance(current, tuple):
            out[key] = current + value
        else:
            out[key] = value
    return MappingProxyType(out)


@dataclass(frozen=True)
class StateInfo:
    """A state as its loaded pack defines it (the attributes of ``tenancy.models.State``)."""

    code: str
    lgd_code: int
    name: Mapping[str, str]
    languages: tuple[str, ...]
    zone: ZoneInfo
    ledger_origin: str | None
    pack_digest: str

    @property
    def timezone(self) -> str:
        return self.zone.key


@dataclass(frozen=True)
class LocalBodyInfo:
    """A local body as its state's pack defines it (the attributes of ``tenancy.models.LocalBody``)."""

    code: str
    state_code: str
    district_code: str
    lgd_code: int | None
    type: str
    local_type_name: Mapping[str, str] | None
    name: Mapping[str, str]
    parent_code: str | None
    overrides: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Place:
    """Where a request acts: a state, or (as :class:`BodyPlace`) one of its local bodies."""

    state: StateInfo
    body: LocalBodyInfo | None = None
    settings: Mapping[str, Any]
    calendar: WorkingCalendar

    @property
    def code(self) -> str:
        return self.body.code if self.body is not None else self.state.code

    @property
    def zone(self) -> ZoneInfo:
        return self.state.zone

    @property
    def timezone(self) -> str:
        return self.state.zone.key

    @property
    def pack_version(self) -> str:
        """The digest of the state's pack these values were read from."""
        return self.state.pack_digest

    def service_overrides(self, service_code: str) -> dict[str, Any] | None:
        """The body's ``overrides.services.<code>`` as a fresh mapping, or None."""
        if self.body is None:
            return None
        services = self.body.overrides.get("services") or {}
        override = services.get(service_code)
        return thaw(override) if isinstance(override, Mapping) else None


@dataclass(frozen=True, kw_only=True)
class BodyPlace(Place):
    """The place of a local body: ``body`` is always there."""

    body: LocalBodyInfo


# --- the caches -------------------------------------------------------------------------------


@dataclass
class _StatePack:
    """What one state's loaded pack determines, as of ``digest``."""

    digest: str
    place: Place
    bodies: dict[str, BodyPlace] = field(default_factory=dict)
    derived: dict[Hashable, Any] = field(default_factory=dict)


@dataclass
class _DatabaseCache:
    packs: dict[str, _StatePack] = field(default_factory=dict)
    immutable: dict[Hashable, Any] = field(default_factory=dict)


_CACHES: dict[str, _DatabaseCache] = {}
_LOCK = threading.Lock()
_UNIT = "nagara.tenancy.context"  # kit.db.memo key: {state code: _StatePack} checked in this unit of work


def _database(session: Session) -> _DatabaseCache:
    """The process's cache for the session's database (ids and digests are per database)."""
    key = session.get_bind().engine.url.render_as_string()
    cache = _CACHES.get(key)
    if cache is None:
        with _LOCK:
            cache = _CACHES.setdefault(key, _DatabaseCache())
    return cache


def _unit(session: Session) -> dict[str, _StatePack]:
    unit: dict[str, _StatePack] = memo(session).setdefault(_UNIT, {})
    return unit


def _read_state(session: Session, state_code: str) -> _StatePack | None:
    row = session.execute(
        select(
            State.code,
            State.lgd_code,
            State.name,
            State.languages,
            State.timezone,
            State.ledger_origin,
            State.pack_digest,
            State.defaults,
            State.calendar,
        ).where(State.code == state_code)
    ).one_or_none()
    if row is None:
        return None
    state = StateInfo(
        code=row.code,
        lgd_code=row.lgd_code,
        name=freeze(row.name),
        languages=tuple(row.languages),
        zone=ZoneInfo(row.timezone),
        ledger_origin=row.ledger_origin,
        pack_digest=row.pack_digest,
    )
    settings = freeze({**(row.defaults or {}), "calendar": row.calendar or {}})
    place = Place(state=state, settings=settings, calendar=WorkingCalendar.from_config(settings["calendar"]))
    return _StatePack(row.pack_digest, place)


def _read_body(session: Session, pack: _StatePack, code: str) -> BodyPlace | None:
    return _read_bodies(session, pack, [code]).get(code)


def _read_bodies(session: Session, pack: _StatePack, codes: Iterable[str]) -> dict[str, BodyPlace]:
    """The places of the state's bodies among ``codes``, in one query; unknown codes are left out."""
    rows = session.execute(
        select(
            LocalBody.code,
            LocalBody.state_code,
            LocalBody.district_code,
            LocalBody.lgd_code,
            LocalBody.type,
            LocalBody.local_type_name,
            LocalBody.name,
            LocalBody.parent_code,
            LocalBody.overrides,
        ).where(LocalBody.code.in_(sorted(set(codes))))
    )
    found: dict[str, BodyPlace] = {}
    for row in rows:
        if row.state_code != pack.place.state.code:
            continue
        overrides = freeze(row.overrides or {})
        body = LocalBodyInfo(
            code=row.code,
            state_code=row.state_code,
            district_code=row.district_code,
            lgd_code=row.lgd_code,
            type=row.type,
            local_type_name=freeze(row.local_type_name),
            name=freeze(row.name),
            parent_code=row.parent_code,
            overrides=overrides,
        )
        settings = merge(pack.place.settings, overrides)
        found[row.code] = BodyPlace(
            state=pack.place.state, body=body, settings=settings, calendar=WorkingCalendar.from_config(settings["calendar"])
        )
    return found


def _state_pack(session: Session, state_code: str) -> _StatePack:
    """The state's entry, checked against the database once in this unit of work.

    The digest is read before (or with) anything kept under it, so a pack committed in
    between can only put newer rows under an older digest, which the next unit of work
    finds different and reads again: an entry is never older than its digest says.
    """
    unit = _unit(session)
    pack = unit.get(state_code)
    if pack is not None:
        return pack
    cache = _database(session)
    with session.no_autoflush:
        pack = cache.packs.get(state_code)
        if pack is not None:
            digest = session.scalar(select(State.pack_digest).where(State.code == state_code))
            if digest != pack.digest:
                pack = None
        if pack is None:
            pack = _read_state(session, state_code)
            if pack is None:
                raise NotFound(f"no tenant {state_code!r}; tenants look like 'kl' (a state) or 'kl.tvm-corp' (a local body)")
            cache.packs[state_code] = pack
    unit[state_code] = pack
    return pack


def digest_read(session: Session, state_code: str, digest: str) -> None:
    """A query that fetched the state's pack digest with its own rows (an application joined to
    its state) hands it over: the unit of work then needs no read of its own to check the cache.

    The digest was read in this transaction, like the one :func:`_state_pack` would read.
    """
    unit = _unit(session)
    if state_code in unit:
        return
    pack = _database(session).packs.get(state_code)
    if pack is not None and pack.digest == digest:
        unit[state_code] = pack


# --- reading places ---------------------------------------------------------------------------


def place(session: Session, code: str) -> Place:
    """The place of a tenant code: a :class:`Place` for ``kl``, a :class:`BodyPlace` for ``kl.tvm-corp``."""
    tenant = parse_tenant(code)
    if tenant.local_body is None:
        return _state_pack(session, tenant.state).place
    return body_place(session, tenant.local_body)


def body_place(session: Session, code: str) -> BodyPlace:
    """The place of a local body; a state's code or an unknown one is :class:`NotFound`."""
    found = _body_place(session, code)
    if found is None:
        raise NotFound(f"no local body {code!r}; local body codes look like 'kl.tvm-corp'")
    return found


def _body_place(session: Session, code: str) -> BodyPlace | None:
    tenant = parse_tenant(code)
    if tenant.local_body is None:
        return None
    try:
        pack = _state_pack(session, tenant.state)
    except NotFound:
        return None
    found = pack.bodies.get(code)
    if found is None:
        with session.no_autoflush:
            found = _read_body(session, pack, code)
        if found is not None:
            if len(pack.bodies) >= MAX_BODIES_PER_STATE:
                pack.bodies.clear()
            pack.bodies[code] = found
    return found


def body_places(session: Session, codes: Iterable[str]) -> dict[str, BodyPlace]:
    """The places of several local bodies (a list's rows), reading those not yet kept in one query per state.

    A list of applications from many bodies so costs the same statements as one of a single
    body. Unknown codes are left out of the answer.
    """
    by_state: dict[str, set[str]] = {}
    for code in codes:
        tenant = parse_tenant(code)
        if tenant.local_body is not None:
            by_state.setdefault(tenant.state, set()).add(code)
    out: dict[str, BodyPlace] = {}
    for state_code, wanted in sorted(by_state.items()):
        try:
            pack = _state_pack(session, state_code)
        except NotFound:
            continue
        missing = [code for code in wanted if code not in pack.bodies]
        if missing:
            with session.no_autoflush:
                read = _read_bodies(session, pack, missing)
            if len(pack.bodies) + len(read) > MAX_BODIES_PER_STATE:
                pack.bodies.clear()
            pack.bodies.update(read)
            out.update(read)
        out.update((code, pack.bodies[code]) for code in wanted if code in pack.bodies)
    return out


def zone_of(session: Session, code: str | None) -> ZoneInfo:
    """The time zone of a tenant's state; without a tenant, the default (India Standard Time)."""
    return place(session, code).zone if code else ZoneInfo(DEFAULT_TIMEZONE)


def for_pack(session: Session, state_code: str, key: Hashable, compute: Callable[[], T]) -> T:
    """A value computed from the state's loaded pack, kept until the pack changes.

    ``compute`` runs in this session; ``key`` names the value (prefix it with your module).
    """
    pack = _state_pack(session, state_code)
    try:
        return cast("T", pack.derived[key])
    except KeyError:
        value = compute()
        pack.derived[key] = value
        return value


def immutable(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """A value read from a row that never changes once written (a service version by id), kept per database.

    ``load`` may raise (nothing is kept then); ``key`` names the value (prefix it with your module).
    """
    cache = _database(session)
    try:
        return cast("T", cache.immutable[key])
    except KeyError:
        value = load()
        cache.immutable[key] = value
        return value


def kept(session: Session, key: Hashable) -> bool:
    """Whether :func:`immutable` already holds a value under ``key`` (so reading it costs no statement)."""
    return key in _database(session).immutable


def invalidate(session: Session, state_code: str) -> None:
    """Forget what this process knows of the state's pack (``load_pack`` calls this at its end).

    Other processes notice the new pack digest at their next unit of work. Ids of rows a
    rolled-back load wrote may be used again (SQLite), so the immutable values of the
    database go too.
    """
    cache = _database(session)
    cache.packs.pop(state_code, None)
    cache.immutable.clear()
    _unit(session).pop(state_code, None)

"""Public reads of the tenant tree: states, districts, local bodies, wards and their calendars."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX
from nagara.kit.errors import Invalid
from nagara.tenancy import service
from nagara.tenancy.models import LOCAL_BODY_TYPES
from nagara.tenancy.schemas import (
    DistrictOut,
    LocalBodyOut,
    LocalBodySettings,
    PackErrorOut,
    PackStatusOut,
    ServiceChangesOut,
    StateOut,
    WardOut,
    WorkingDay,
)

router = APIRouter(prefix=API_PREFIX, tags=["tenancy"])


@router.get("/states", response_model=list[StateOut])
def states(session: DbSession) -> list[StateOut]:
    return [StateOut.model_validate(s) for s in service.list_states(session)]


@router.get("/states/{state}", response_model=StateOut)
def state(state: str, session: DbSession) -> StateOut:
    return StateOut.model_validate(service.get_state(session, state))


@router.get("/states/{state}/districts", response_model=list[DistrictOut])
def districts(state: str, session: DbSession) -> list[DistrictOut]:
    return [DistrictOut.model_validate(d) for d in service.list_districts(session, state)]


@router.get("/states/{state}/local-bodies", response_model=list[LocalBodyOut])
def local_bodies(
    state: str,
    session: DbSession,
    type: Annotated[str | None, Query(description=f"One of: {', '.join(LOCAL_BODY_TYPES)}")] = None,  # noqa: A002 - the public query name
    district: Annotated[str | None, Query(description="District code within the state, such as 'tvm'")] = None,
) -> list[LocalBodyOut]:
    if type is not None and type not in LOCAL_BODY_TYPES:
        msg = f"type must be one of: {', '.join(LOCAL_BODY_TYPES)}"
        raise Invalid(msg, [{"loc": ["query", "type"], "msg": msg, "type": "enum"}])
    return [LocalBodyOut.model_validate(b) for b in service.list_local_bodies(session, state, type_=type, district=district)]


@router.get("/local-bodies/{code}", response_model=LocalBodyOut)
def local_body(code: str, session: DbSession) -> LocalBodyOut:
    return LocalBodyOut.model_validate(service.get_local_body(session, code))


@router.get("/local-bodies/{code}/wards", response_model=list[WardOut])
def wards(code: str, session: DbSession) -> list[WardOut]:
    return [WardOut.model_validate(w) for w in service.list_wards(session, code)]


@router.get("/local-bodies/{code}/settings", response_model=LocalBodySettings)
def settings(code: str, session: DbSession) -> LocalBodySettings:
    """The state's definitions with this local body's overrides applied."""
    return LocalBodySettings(local_body=code, settings=service.effective_settings(session, code))


@router.get("/local-bodies/{code}/working-days", response_model=list[WorkingDay])
def working_days(
    code: str,
    session: DbSession,
    start: Annotated[date, Query(alias="from")],
    days: Annotated[int, Query(ge=1, le=366)] = 31,
) -> list[WorkingDay]:
    """Which days the local body's offices work, after its local holidays."""
    cal = service.working_calendar(session, code)
    return [
        WorkingDay(date=(start + timedelta(days=i)).isoformat(), working=cal.is_working_day(start + timedelta(days=i)))
        for i in range(days)
    ]


@router.get("/states/{state}/pack-status", response_model=PackStatusOut)
def pack_status(state: str, session: DbSession, principal: CurrentPrincipal) -> PackStatusOut:
    """The state's pack folder validated now (as `nagara pack validate` does), beside what is loaded."""
    status = service.pack_status(session, principal, state)
    return PackStatusOut(
        state=status.state_code,
        directory=status.directory,
        valid=status.valid,
        in_sync=status.in_sync,
        loaded_from=status.loaded_from,
        loaded_digest=status.loaded_digest,
        loaded_at=status.loaded_at,
        disk_digest=status.disk_digest,
        counts=status.counts,
        errors=[PackErrorOut(file=e.file, path=e.path, message=e.message) for e in status.errors],
        services=None if status.services is None else ServiceChangesOut(**dataclasses.asdict(status.services)),
    )

"""The data principal's rights through the API: who read my data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX, MAX_OFFSET, json_response
from nagara.privacy import service
from nagara.privacy.schemas import AccessSeenOut, ErasureIn, ErasureItemOut

router = APIRouter(prefix=API_PREFIX, tags=["privacy"])


@router.get("/me/access-log", response_model=list[AccessSeenOut])
def access_log(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[AccessSeenOut]:
    """Who read my personal data: the role, the local body and the purpose of each read, newest first."""
    return [AccessSeenOut(**vars(seen)) for seen in service.access_log(session, principal, limit=limit, offset=offset)]


@router.get("/me/erasure", response_model=list[ErasureItemOut])
def erasure_options(session: DbSession, principal: CurrentPrincipal) -> list[ErasureItemOut]:
    """Each of my applications: whether it can be erased now (a draft) and, if not, why (being decided, or a register entry)."""
    return [ErasureItemOut(**vars(item)) for item in service.erasure_options(session, principal)]


@router.post("/me/erasure", response_model=ErasureItemOut)
def erase(body: ErasureIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Erase a draft of mine at once (answers and documents; its number stays). A decided application is a
    register entry the law keeps, and one being decided is withdrawn first: both are refused with the reason (409)."""
    return json_response(ErasureItemOut(**vars(service.erase_application(session, principal, body.application))))

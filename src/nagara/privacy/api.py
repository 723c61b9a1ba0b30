"""The data principal's rights through the API: who read my data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX, MAX_OFFSET
from nagara.privacy import service
from nagara.privacy.schemas import AccessSeenOut

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

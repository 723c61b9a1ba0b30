from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from nagara.audit import service
from nagara.audit.schemas import AuditEventOut
from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["audit"])


@router.get("/audit-events", response_model=list[AuditEventOut])
def list_events(
    session: DbSession,
    principal: CurrentPrincipal,
    entity_id: str | None = None,
    action: str | None = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEventOut]:
    """Audit events within the caller's jurisdiction, newest first."""
    events = service.list_events(session, principal, entity_id=entity_id, action=action, before=before, limit=limit)
    return [AuditEventOut.model_validate(e) for e in events]


@router.get("/audit-events/{event_id}", response_model=AuditEventOut)
def get_event(event_id: str, session: DbSession, principal: CurrentPrincipal) -> AuditEventOut:
    return AuditEventOut.model_validate(service.get_event(session, principal, event_id))

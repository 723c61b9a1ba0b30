"""Record audit events.

Every flushed insert, update or delete of a mapped row is recorded
automatically (a ``before_flush`` hook), with the actor from
:mod:`nagara.kit.context`; so no write path can forget. Services add
:func:`record` for events that change no row of their own (a failed login).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, event, inspect, select
from sqlalchemy.orm import Session

from nagara.audit.models import AuditEvent
from nagara.kit import context
from nagara.kit.access import Principal, require_any, scope
from nagara.kit.db import IdMixin, new_id
from nagara.kit.errors import NotFound


def record(
    session: Session,
    action: str,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    tenant_code: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    ctx = context.current()
    ev = AuditEvent(
        id=new_id(),
        request_id=ctx.request_id or None,
        actor_id=ctx.actor_id,
        actor_kind=ctx.actor_kind,
        via=ctx.via,
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:255] or None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        tenant_code=tenant_code,
        data=data,
    )
    session.add(ev)
    return ev


def _identity(obj: Any) -> str:
    mapper = inspect(obj).mapper
    return "/".join(str(getattr(obj, col.key)) for col in mapper.primary_key)


def _audited(obj: Any) -> bool:
    return bool(getattr(type(obj), "__audited__", True))


@event.listens_for(Session, "before_flush")
def _audit_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    events: list[tuple[str, Any, list[str] | None]] = []
    for obj in list(session.new):
        if _audited(obj):
            if isinstance(obj, IdMixin) and obj.id is None:
                obj.id = new_id()  # so the event can name the row before the INSERT
            events.append(("created", obj, None))
    for obj in list(session.dirty):
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            changed = sorted(a.key for a in state.attrs if a.history.has_changes())
            events.append(("updated", obj, changed))
    for obj in list(session.deleted):
        if _audited(obj):
            events.append(("deleted", obj, None))
    for verb, obj, changed_fields in events:
        table = obj.__table__.name
        ev = record(
            session,
            f"{table}.{verb}",
            entity_type=table,
            entity_id=_identity(obj)[:128],
            tenant_code=getattr(obj, "audit_tenant", None),
        )
        ev.changes = changed_fields


def _tenant_scope(principal: Principal) -> ColumnElement[bool]:
    """Events of places within the caller's audit jurisdiction (a state code covers its local bodies)."""
    return scope(principal, "audit:event:read", place_col=AuditEvent.tenant_code)


def list_events(
    session: Session,
    principal: Principal,
    *,
    entity_id: str | None = None,
    action: str | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list[AuditEvent]:
    require_any(principal, "audit:event:read")
    query = select(AuditEvent).where(_tenant_scope(principal))
    if entity_id:
        query = query.where(AuditEvent.entity_id == entity_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if before:
        query = query.where(AuditEvent.at < before)
    return list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id).limit(limit)))


def get_event(session: Session, principal: Principal, event_id: str) -> AuditEvent:
    require_any(principal, "audit:event:read")
    ev = session.scalar(select(AuditEvent).where(AuditEvent.id == event_id, _tenant_scope(principal)))
    if ev is None:
        raise NotFound("no such audit event within your jurisdiction")
    return ev

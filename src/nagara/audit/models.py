from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    """Never updated or deleted. ``changes`` lists changed field names, never their values."""

    __tablename__ = "audit_events"
    __audited__ = False

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(80), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(128), index=True)
    tenant_code: Mapped[str | None] = mapped_column(String(96), index=True)
    changes: Mapped[list[str] | None] = mapped_column(JSON)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccessLogEntry(IdMixin, Base):
    """Someone other than the data principal read their personal data: who (role, place), what, why, when.

    Never updated or deleted before its retention ends. The citizen sees their entries with the
    role, the local body and the purpose, never the officer (``viewer_id`` is for the Data
    Protection Officer). ``reason`` is the officer's own words when they asked to reveal a masked value.
    """

    __tablename__ = "access_log"
    __audited__ = False

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    viewer_id: Mapped[str] = mapped_column(String(36), index=True)
    viewer_kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(64))
    state_code: Mapped[str] = mapped_column(String(32))
    local_body_code: Mapped[str | None] = mapped_column(String(96))
    record_type: Mapped[str] = mapped_column(String(32))
    record_ref: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(16), default="read")
    reason: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))

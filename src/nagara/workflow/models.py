from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, utcnow


class Case(Protocol):
    """What the engine reads and changes on a case; ``applications.models.Application`` is one.

    The engine imports no domain above it: it works on any mapped class with these
    attributes, and queries the class of the case it was given.
    """

    id: str
    number: str
    state_code: str
    local_body_code: str
    ward_code: str | None
    service_code: str
    applicant_id: str
    filed_by_id: str
    state: str
    is_open: bool
    outcome: str | None
    version: int
    assigned_role: str | None
    assigned_to_id: str | None
    state_entered_at: datetime
    state_due_at: datetime | None
    state_escalated: bool
    submitted_at: datetime | None
    service_due_at: datetime | None
    service_breached: bool
    paused_at: datetime | None
    decided_at: datetime | None
    appeal_level: int
    fee_lines: list[dict[str, Any]]
    fee_total: int
    fee_paid: bool
    last_seq: int  # the seq of the last history entry
    breach_count: int


class HistoryEntry(IdMixin, Base):
    """One step of an application's history. Written once, never changed."""

    __tablename__ = "application_history"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # notifications read new steps by time
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_role: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Breach(IdMixin, Base):
    """A time limit that passed: of one state (escalated) or of the whole service (compensation may be owed)."""

    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("application_id", "kind", "state", "due_at"),)

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    local_body_code: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # state | service
    state: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column()
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    escalated_to: Mapped[str | None] = mapped_column(String(64))
    compensation_per_day: Mapped[int] = mapped_column(Integer, default=0)
    compensation_cap: Mapped[int] = mapped_column(Integer, default=0)

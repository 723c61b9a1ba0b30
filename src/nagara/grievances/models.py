"""The grievance tables: the case, its history (the workflow engine's steps), photos, "me too"
supporters, the categories loaded from the pack.
Open311 partner apps file with a partner account's API key (``identity``).

A grievance is a case of the workflow engine (``workflow.models.Case``): the engine numbers
its steps, writes them to :class:`GrievanceStep`, moves it level by level and announces
each step. Its own table keeps the applications' registers, payments and dashboards apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin, utcnow

# States of a grievance (the workflow the engine carries it through).
RECEIVED, ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED = "received", "assigned", "in_progress", "resolved", "closed"
STATES = (RECEIVED, ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED)
MERGED = "merged"  # closed as a duplicate of another grievance
OPEN_STATES = (RECEIVED, ASSIGNED, IN_PROGRESS)


class GrievanceStep(IdMixin, Base):
    """One step of a grievance's history (the engine's history entry). Written once, never changed.

    It holds no personal data: the comment is the officer's or the system's note; the citizen's
    own words stay on the grievance.
    """

    __tablename__ = "grievance_steps"
    __table_args__ = (UniqueConstraint("grievance_id", "seq"),)
    case_key: ClassVar[str] = "grievance_id"

    grievance_id: Mapped[str] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_role: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Grievance(IdMixin, TimestampMixin, Base):
    """One grievance. Everything the inbox, the public list and Open311 filter on is a plain column."""

    __tablename__ = "grievances"
    __table_args__ = (
        Index("ix_grievances_inbox", "local_body_code", "assigned_role", "is_open", "state_due_at"),
        Index("ix_grievances_public", "local_body_code", "public", "created_at"),
        # Open311's filtered list: service codes and status (states) in the key, the date range last.
        Index("ix_grievances_open311", "local_body_code", "public", "category_code", "state", "created_at"),
        Index("ix_grievances_state_created", "state_code", "created_at"),
        Index("ix_grievances_citizen", "citizen_id", "created_at"),
        Index("ix_grievances_workload", "assigned_to_id", "is_open"),
        Index("ix_grievances_due", "is_open", "state_due_at"),
    )
    # The workflow engine's history model and ledger entry type for this kind of case.
    history_model: ClassVar[type[GrievanceStep]] = GrievanceStep
    ledger_type: ClassVar[str] = "grievance.action"
    step_event: ClassVar[type[Any]]  # grievances.events.GrievanceStepRecorded, set there (it imports this module)

    number: Mapped[str] = mapped_column(String(64), unique=True)
    token: Mapped[str] = mapped_column(String(36), unique=True)  # Open311's token, given at filing
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    ward_code: Mapped[str | None] = mapped_column(String(96))
    category_code: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(default=True)
    channel: Mapped[str] = mapped_column(String(16))  # portal | guest | assisted | open311
    citizen_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    filed_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    partner_id: Mapped[str | None] = mapped_column(String(36))  # the Open311 key it came through
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(32))
    is_open: Mapped[bool] = mapped_column(default=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)
    assigned_role: Mapped[str | None] = mapped_column(String(64))
    assigned_to_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_due_at: Mapped[datetime | None] = mapped_column()  # the current level's due time
    state_escalated: Mapped[bool] = mapped_column(default=False)
    extended: Mapped[bool] = mapped_column(default=False)  # the level's time was extended by an interim reply
    resolved_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()  # closed
    resolution_note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    appeal_level: Mapped[int] = mapped_column(Integer, default=0)  # poor ratings appealed
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("grievances.id"))
    supporters: Mapped[int] = mapped_column(Integer, default=0)  # "me too"
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    breach_count: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative form

    @property
    def service_code(self) -> str:
        """The engine's name for what the case is about: the category."""
        return self.category_code

    @property
    def applicant_id(self) -> str:
        return self.citizen_id

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class GrievancePhoto(IdMixin, Base):
    """A photo: the citizen's (``report``) or the officer's proof (``resolution``).

    ``public_key`` is the copy served publicly, re-encoded without EXIF metadata (GPS, device).
    """

    __tablename__ = "grievance_photos"

    grievance_id: Mapped[str] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # report | resolution
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[str] = mapped_column(String(36))


class GrievanceSupporter(Base):
    """A citizen who said "me too" on a public grievance (instead of filing it again)."""

    __tablename__ = "grievance_supporters"

    grievance_id: Mapped[str] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class GrievanceCategory(Base):
    """A category of a state's pack (``grievances.yaml``), as loaded."""

    __tablename__ = "grievance_categories"
    __audited__ = False  # written only by a pack load, whose own load is audited

    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)


class GrievanceTriage(Base):
    """What the triage assistant (``nagara.ai``) suggested when the grievance was filed, and what an
    officer decided. The suggestion itself (model version, input hash, output) is its ``ai_suggestions``
    row; this row keeps what the grievance pages and the human triage queue ask for. Below the pack's
    threshold (``needs_human``) no category is offered: the grievance waits in the queue for an officer."""

    __tablename__ = "grievance_triage"
    __table_args__ = (Index("ix_grievance_triage_queue", "needs_human", "decided_at"),)

    grievance_id: Mapped[str] = mapped_column(ForeignKey("grievances.id", ondelete="CASCADE"), primary_key=True)
    local_body_code: Mapped[str] = mapped_column(String(96))  # where it was filed (the audit's tenant)
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("ai_suggestions.id"))
    category: Mapped[str] = mapped_column(String(64))  # the model's top category
    confidence: Mapped[float] = mapped_column(Float)
    needs_human: Mapped[bool] = mapped_column(default=False)
    decided_category: Mapped[str | None] = mapped_column(String(64))  # the officer's: a confirmation or a correction
    decided_by_id: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column()
    label_id: Mapped[str | None] = mapped_column(ForeignKey("ai_labels.id"))  # the training example the decision made

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin, utcnow


class Application(IdMixin, TimestampMixin, Base):
    """One case. The form data is sealed (personal data); everything the inbox sorts on is plain."""

    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_inbox", "local_body_code", "assigned_role", "is_open", "state_due_at"),
        Index("ix_applications_applicant", "applicant_id", "created_at"),
        Index("ix_applications_workload", "assigned_to_id", "is_open"),
        # The reads that must stay fast as the table grows (issue 21; migration reads0001):
        # a number's beginning (PostgreSQL's collation orders no prefix: a bytewise operator class;
        # SQLite's unique index on the number serves the same range), newest first within a
        # body, a state or what an operator filed, and the open work that falls due.
        Index("ix_applications_number_prefix", "number", postgresql_ops={"number": "varchar_pattern_ops"}).ddl_if(
            dialect="postgresql"
        ),
        Index("ix_applications_body_created", "local_body_code", "created_at"),
        Index("ix_applications_state_created", "state_code", "created_at"),
        Index("ix_applications_filed_by", "filed_by_id", "created_at"),
        Index(
            "ix_applications_open_due",
            "local_body_code",
            "state_due_at",
            postgresql_where=text("is_open IS true"),
            sqlite_where=text("is_open IS 1"),
        ),
    )

    number: Mapped[str] = mapped_column(String(64), unique=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    ward_code: Mapped[str | None] = mapped_column(String(96))
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    service_version_id: Mapped[int] = mapped_column(ForeignKey("service_versions.id"))
    applicant_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    filed_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    consent_at: Mapped[datetime | None] = mapped_column()
    data_sealed: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(64))
    is_open: Mapped[bool] = mapped_column(default=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    assigned_role: Mapped[str | None] = mapped_column(String(64))
    assigned_to_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_due_at: Mapped[datetime | None] = mapped_column()
    state_escalated: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime | None] = mapped_column()
    service_due_at: Mapped[datetime | None] = mapped_column(index=True)
    service_breached: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    appeal_level: Mapped[int] = mapped_column(Integer, default=0)
    fee_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fee_total: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_paid: Mapped[bool] = mapped_column(default=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the history's last step
    breach_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative form

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class Document(IdMixin, Base):
    __tablename__ = "application_documents"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    doc_type: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[str] = mapped_column(String(36))
    verified_at: Mapped[datetime | None] = mapped_column()
    verified_by_id: Mapped[str | None] = mapped_column(String(36))


class SearchTerm(Base):
    """A keyed hash of one normalised name token, or of a mobile number, on an application.

    Officers find applications by a person's name or mobile number; the form is sealed, so
    the search matches these hashes (``applications/search.py``), never the plaintext.
    """

    __tablename__ = "application_search_terms"
    # Derived from the sealed form and rewritten with it; the form's own change is audited.
    __audited__ = False
    __table_args__ = (Index("ix_application_search_terms_digest", "digest"),)

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


def as_application(case: object) -> Application:
    """The workflow hands handlers its case; the handlers of applications' concerns need an application."""
    if not isinstance(case, Application):
        raise TypeError(f"expected an application, got {type(case).__name__}")
    return case

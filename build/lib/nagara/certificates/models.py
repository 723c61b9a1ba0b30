"""Certificates and licences, and the Bitstring Status Lists that revoke and suspend them.

A certificate row is one edition of one credential: a registration number keeps
its number through corrections (reissue) and renewals, each a new edition with a
new credential, the previous one marked superseded. The credential and the record
it certifies hold personal data, so both are sealed; everything a verifier or the
register sorts on is plain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin, utcnow

ACTIVE = "active"
SUSPENDED = "suspended"
REVOKED = "revoked"
SUPERSEDED = "superseded"
STATUSES = (ACTIVE, SUSPENDED, REVOKED, SUPERSEDED)


class Certificate(IdMixin, TimestampMixin, Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("number", "edition"),
        UniqueConstraint("status_list", "status_index"),
        Index("ix_certificates_application", "application_id", "edition"),
    )

    number: Mapped[str] = mapped_column(String(64), index=True)
    edition: Mapped[int] = mapped_column(Integer, default=1)
    output_type: Mapped[str] = mapped_column(String(64))
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"))
    application_number: Mapped[str] = mapped_column(String(64), index=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    service_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column()
    superseded_by_id: Mapped[str | None] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    status_list: Mapped[int] = mapped_column(Integer)
    status_index: Mapped[int] = mapped_column(Integer)
    verification_method: Mapped[str] = mapped_column(String(255))
    credential_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    credential_sealed: Mapped[str] = mapped_column(Text)
    ledger_pending_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code

    @property
    def credential_id(self) -> str:
        return f"urn:uuid:{self.id}"


class StatusList(Base):
    """One Bitstring Status List (W3C) for one purpose, with its signed status list credential."""

    __tablename__ = "certificate_status_lists"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)  # revocation | suspension
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    credential: Mapped[str] = mapped_column(Text)  # the signed BitstringStatusListCredential, JSON
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative form

    @property
    def list_id(self) -> str:
        return f"{self.purpose}-{self.number}"

    @property
    def audit_tenant(self) -> None:
        return None

"""The privacy domain's tables: consent artefacts (DPDP Act 2023 s.6) and the breach register (Rule 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin


class ConsentRecord(IdMixin, TimestampMixin, Base):
    """A consent a data principal gave for one purpose, and its withdrawal: both as signed artefacts.

    ``artefact`` is the machine-readable consent (after MeitY's Electronic Consent Framework and the
    Account Aggregator consent artefact); ``signed`` its compact JWS by the platform's credential key,
    ``sha256`` the hash of its RFC 8785 form, which is on the public ledger (``privacy.consent_given``,
    subject ``consent/<id>``). A withdrawal is the same: ``withdrawal``, ``withdrawal_signed``,
    ``withdrawal_sha256`` (``privacy.consent_withdrawn``). The artefact names the principal by id, never
    by name or number. ``source`` names the record of another domain the consent stands for
    (``exchange:<consent id>``), so a withdrawal here withdraws it there.
    """

    __tablename__ = "privacy_consents"
    __table_args__ = (
        Index("ix_privacy_consents_principal", "principal_id", "created_at"),
        Index("ix_privacy_consents_source", "source"),
    )

    principal_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    state_code: Mapped[str] = mapped_column(String(8))
    fiduciary: Mapped[str] = mapped_column(String(96))  # the tenant code: a state or a local body
    purpose: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(255))  # whom the data goes to, when shared
    source: Mapped[str | None] = mapped_column(String(128))
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime] = mapped_column()
    given_via: Mapped[str] = mapped_column(String(16))
    artefact: Mapped[dict[str, Any]] = mapped_column(JSON)
    signed: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    withdrawn_via: Mapped[str | None] = mapped_column(String(16))
    withdrawal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    withdrawal_signed: Mapped[str | None] = mapped_column(Text)
    withdrawal_sha256: Mapped[str | None] = mapped_column(String(64))

    @property
    def audit_tenant(self) -> str:
        return self.fiduciary


class Breach(IdMixin, TimestampMixin, Base):
    """A personal data breach in the Data Protection Officer's register (DPDP Rules 2025, Rule 7).

    From ``discovered_at`` run the clocks: the Board's intimation without delay, its detailed report
    within 72 hours (``board_report_due_at``, the six items of Rule 7(2)(b) in ``report``), and the
    report to CERT-In within 6 hours (``cert_in_due_at``, CERT-In Directions of 28 April 2022). Each
    affected person is a :class:`BreachPerson`, told in their language through the portal.
    """

    __tablename__ = "privacy_breaches"
    __table_args__ = (Index("ix_privacy_breaches_state", "state_code", "discovered_at"),)

    state_code: Mapped[str] = mapped_column(String(8))
    local_body_code: Mapped[str | None] = mapped_column(String(96))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)  # nature, extent, timing and location
    discovered_at: Mapped[datetime] = mapped_column()
    occurred_at: Mapped[datetime | None] = mapped_column()
    data_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    people_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    measures: Mapped[str] = mapped_column(Text, default="")
    consequences: Mapped[str] = mapped_column(Text, default="")  # the likely consequences for the people affected
    safety_steps: Mapped[str] = mapped_column(Text, default="")  # what the people affected may do
    contact: Mapped[str] = mapped_column(String(200), default="")  # who answers their questions
    recorded_by: Mapped[str] = mapped_column(String(36))
    board_report_due_at: Mapped[datetime] = mapped_column()
    cert_in_due_at: Mapped[datetime] = mapped_column()
    board_intimated_at: Mapped[datetime | None] = mapped_column()
    cert_in_reported_at: Mapped[datetime | None] = mapped_column()
    principals_notified_at: Mapped[datetime | None] = mapped_column()
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_submitted_at: Mapped[datetime | None] = mapped_column()

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code or self.state_code


class BreachPerson(IdMixin, Base):
    """One person whose personal data a breach affected, and when they were told."""

    __tablename__ = "privacy_breach_people"
    __table_args__ = (UniqueConstraint("breach_id", "user_id", name="uq_privacy_breach_people"),)

    breach_id: Mapped[str] = mapped_column(ForeignKey("privacy_breaches.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    notified_at: Mapped[datetime | None] = mapped_column()
    notice_id: Mapped[str | None] = mapped_column(String(36))  # the portal message that told them

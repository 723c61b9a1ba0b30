"""The privacy domain's tables: consent artefacts (DPDP Act 2023 s.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
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

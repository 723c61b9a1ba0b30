"""People and systems that act: citizens, officers, partner systems, and their credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin, utcnow

USER_KINDS = ("citizen", "officer", "partner")
TOKEN_KINDS = ("session", "bearer", "api_key")
# Where a credential came from: a sign-in (one-time code or password), minted by a signed-in
# person (POST /me/tokens), issued by the operator's CLI, or a partner system's key.
TOKEN_ORIGINS = ("sign_in", "minted", "cli", "partner")


class User(IdMixin, TimestampMixin, Base):
    """Citizens are found by a blind index of their mobile number; officers and partners by username.

    Personal data (mobile number, name) is stored sealed with the PII key.
    """

    __tablename__ = "users"

    kind: Mapped[str] = mapped_column(String(16))
    state_code: Mapped[str | None] = mapped_column(ForeignKey("states.code"), index=True)
    username: Mapped[str | None] = mapped_column(String(80), unique=True)
    mobile_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    mobile_sealed: Mapped[str | None] = mapped_column(String(255))
    name_sealed: Mapped[str | None] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(8), default="en")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_sealed: Mapped[str | None] = mapped_column(String(255))
    # The time step (30 s) of the last authenticator code accepted: a code is good once, and never
    # one older (identity.service.officer_login moves it forward atomically).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(default=True)

    @property
    def audit_tenant(self) -> str | None:
        return self.state_code


class RoleAssignment(IdMixin, Base):
    """A role held within a state and, narrower, a local body, a ward or a section."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role_code", "state_code", "local_body_code", "ward_code", "section"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state_code: Mapped[str] = mapped_column(String(8))
    role_code: Mapped[str] = mapped_column(String(64))
    local_body_code: Mapped[str | None] = mapped_column(ForeignKey("local_bodies.code"), index=True)
    ward_code: Mapped[str | None] = mapped_column(ForeignKey("wards.code"))
    section: Mapped[str | None] = mapped_column(String(64))
    granted_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code or self.state_code


class OtpChallenge(IdMixin, Base):
    """One one-time code sent to a mobile number; only its hash is kept."""

    __tablename__ = "otp_challenges"

    mobile_index: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column()
    # A sign-in code, or a citizen's consent to one operator applying for one service at one body:
    # a consent code cannot sign anyone in, and a sign-in code is no consent.
    purpose: Mapped[str] = mapped_column(String(16), default="sign_in", server_default="sign_in")
    consent_for: Mapped[str | None] = mapped_column(String(160))  # "<local body>/<service>"
    requested_by_id: Mapped[str | None] = mapped_column(String(36))


class AuthToken(IdMixin, Base):
    """A web session, an API bearer token or a partner API key; only the SHA-256 of the secret is kept."""

    __tablename__ = "auth_tokens"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    origin: Mapped[str | None] = mapped_column(String(16))  # one of TOKEN_ORIGINS; None: issued before it was kept

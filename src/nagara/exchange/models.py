"""The exchange's tables: members and their keys, this node's own keys, nonces seen, consents and the message log.

The message log (``exchange_log``) is the evidence X-Road keeps: who called which service for
what purpose under which consent, with the SHA-256 of the request and the response, never their
content; each row's hash goes on the public ledger in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin, utcnow

ACTIVE = "active"
SUSPENDED = "suspended"
RETIRED = "retired"


class Member(IdMixin, TimestampMixin, Base):
    """Another system allowed to call this node (or that this node calls): a node, a department, a national system."""

    __tablename__ = "exchange_members"
    __table_args__ = (UniqueConstraint("identifier"),)

    identifier: Mapped[str] = mapped_column(String(200))  # X-Road-like INSTANCE/CLASS/MEMBER/SUBSYSTEM
    name: Mapped[str] = mapped_column(String(200))
    did: Mapped[str] = mapped_column(String(255))  # did:web of the member; its keys are <did>#<name>
    base_url: Mapped[str] = mapped_column(String(255), default="")  # where its /exchange/v1 is, when we call it
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))  # the state whose administrator manages it
    services: Mapped[list[str]] = mapped_column(JSON, default=list)  # the services it may call here
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)  # the purposes it may state
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    requests_per_minute: Mapped[int] = mapped_column(Integer, default=600)

    @property
    def audit_tenant(self) -> str:
        return self.state_code


class MemberKey(TimestampMixin, Base):
    """A member's Ed25519 public key; several may be active at once, so a key rotates without downtime."""

    __tablename__ = "exchange_member_keys"
    __table_args__ = (Index("ix_exchange_member_keys_member", "member_id"),)

    key_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # did:web:...#name
    member_id: Mapped[str] = mapped_column(ForeignKey("exchange_members.id"))
    public_key: Mapped[str] = mapped_column(String(64))  # base64url of the 32 raw bytes
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    retired_at: Mapped[datetime | None] = mapped_column()


class OwnKey(TimestampMixin, Base):
    """This node's signing keys; the newest active one signs, older active ones are still published."""

    __tablename__ = "exchange_own_keys"

    key_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    private_sealed: Mapped[str] = mapped_column(Text)  # sealed with the PII cipher
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    retired_at: Mapped[datetime | None] = mapped_column()


class SeenNonce(Base):
    """A request nonce seen from a member within the clock window: the same nonce again is a replay."""

    __tablename__ = "exchange_nonces"
    __audited__ = False

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Consent(IdMixin, TimestampMixin, Base):
    """A citizen's consent that a member may call a service about one of their records, for a purpose, until a time."""

    __tablename__ = "exchange_consents"
    __table_args__ = (Index("ix_exchange_consents_citizen", "citizen_id", "created_at"),)

    citizen_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("exchange_members.id"))
    service: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(128))  # a certificate number, a property id
    purpose: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    state_code: Mapped[str] = mapped_column(String(8))

    @property
    def audit_tenant(self) -> str:
        return self.state_code


class LogRecord(IdMixin, Base):
    """One exchange, served (``in``) or made (``out``): the evidence, without personal data."""

    __tablename__ = "exchange_log"
    __table_args__ = (
        Index("ix_exchange_log_member", "member_id", "created_at"),
        Index("ix_exchange_log_citizen", "citizen_id", "created_at"),
    )

    direction: Mapped[str] = mapped_column(String(3))  # in | out
    member_id: Mapped[str] = mapped_column(ForeignKey("exchange_members.id"))
    member_identifier: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    consent_id: Mapped[str | None] = mapped_column(String(36))
    citizen_id: Mapped[str | None] = mapped_column(String(36))  # whose data it was, for "who looked at my data"
    request_sha256: Mapped[str] = mapped_column(String(64))
    response_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    state_code: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ledger_pending_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def audit_tenant(self) -> str:
        return self.state_code

    def ledger_content(self) -> dict[str, Any]:
        """What the ledger entry commits to (hashed with a salt): the evidence, no personal data."""
        return {
            "id": self.id,
            "direction": self.direction,
            "member": self.member_identifier,
            "service": self.service,
            "purpose": self.purpose,
            "consent": self.consent_id,
            "request_sha256": self.request_sha256,
            "response_sha256": self.response_sha256,
            "status": self.status,
        }


class Transfer(IdMixin, TimestampMixin, Base):
    """Moving home: a citizen's records sent to another member's body (``out``) or received from one (``in``)."""

    __tablename__ = "exchange_transfers"
    __table_args__ = (Index("ix_exchange_transfers_citizen", "citizen_id", "created_at"),)

    direction: Mapped[str] = mapped_column(String(3))  # out | in
    member_id: Mapped[str] = mapped_column(ForeignKey("exchange_members.id"))
    peer_transfer_id: Mapped[str | None] = mapped_column(String(36))  # the other node's id of the same transfer
    citizen_id: Mapped[str | None] = mapped_column(String(36))  # out: who asked; in: the citizen here with that mobile
    mobile_index: Mapped[str | None] = mapped_column(String(64), index=True)  # in: to find the citizen who signs up later
    to_body: Mapped[str] = mapped_column(String(96))  # the receiving local body
    status: Mapped[str] = mapped_column(String(16))  # sent | received | accepted | refused
    reason: Mapped[str | None] = mapped_column(Text)
    records_sealed: Mapped[str | None] = mapped_column(Text)  # in: the records received, sealed
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    decided_at: Mapped[datetime | None] = mapped_column()
    state_code: Mapped[str] = mapped_column(String(8))

    @property
    def audit_tenant(self) -> str:
        return self.state_code

"""Payments tables: the property register, demands and their lines, payments, gateway events,
receipts, refunds, the counter's day close, the accounts journal, and the local gateway's own orders.

Money is integer paise everywhere. A demand is paid once: settling takes the demand's row
lock and checks its status, so a second success for the same demand becomes an excess
collection that is refunded, never a second payment of the demand.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nagara.kit.db import Base, IdMixin, TimestampMixin, utcnow


class Property(IdMixin, TimestampMixin, Base):
    """One assessed building in the property register (assessment number, plinth area, use, zone)."""

    __tablename__ = "payments_properties"
    __table_args__ = (UniqueConstraint("local_body_code", "assessment_number"),)

    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"), index=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    ward_code: Mapped[str | None] = mapped_column(String(96))
    assessment_number: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    usage: Mapped[str] = mapped_column(String(32))
    zone: Mapped[int] = mapped_column(Integer, default=1)
    plinth_area_sqm: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(default=True)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class Demand(IdMixin, TimestampMixin, Base):
    """A bill: lines by head, a due date, and a status (due, paid, cancelled)."""

    __tablename__ = "payments_demands"
    __table_args__ = (
        UniqueConstraint("property_id", "period"),
        Index("ix_payments_demands_body_status", "local_body_code", "status", "due_date"),
    )

    number: Mapped[str] = mapped_column(String(64), unique=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    kind: Mapped[str] = mapped_column(String(16))  # application | property_tax
    application_id: Mapped[str | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    property_id: Mapped[str | None] = mapped_column(ForeignKey("payments_properties.id"))
    period: Mapped[str | None] = mapped_column(String(16))  # 2026-27/H1
    payer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    amount: Mapped[int] = mapped_column(BigInteger)  # the lines' total before any rebate or penalty
    due_date: Mapped[date] = mapped_column(Date)
    # Property tax: paid on or before rebate_until earns the rebate; after due_date the penalty runs.
    rebate_until: Mapped[date | None] = mapped_column(Date)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="due")
    paid_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_at: Mapped[datetime | None] = mapped_column()
    paid_by_payment_id: Mapped[str | None] = mapped_column(String(36))
    # The state an application moves to once paid (self-certified approval waits for the fee).
    then_state: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative form

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class DemandLine(IdMixin, Base):
    __tablename__ = "payments_demand_lines"

    demand_id: Mapped[str] = mapped_column(ForeignKey("payments_demands.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    head: Mapped[str] = mapped_column(String(16))  # fee | tax | penalty | rebate | cess
    account: Mapped[str] = mapped_column(String(16))  # NMAM account code
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    amount: Mapped[int] = mapped_column(BigInteger)  # paise, positive; a rebate line reduces the total


class Payment(IdMixin, TimestampMixin, Base):
    """One attempt to pay a demand, online (gateway, UPI) or at the counter (cash, cheque, DD)."""

    __tablename__ = "payments_payments"
    __table_args__ = (
        UniqueConstraint("created_by_id", "idempotency_key"),
        UniqueConstraint("gateway", "gateway_order_id"),
        Index("ix_payments_pending", "status", "created_at"),
        Index("ix_payments_counter_day", "local_body_code", "business_date", "collected_by_id"),
    )

    demand_id: Mapped[str] = mapped_column(ForeignKey("payments_demands.id"), index=True)
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    channel: Mapped[str] = mapped_column(String(16))  # online | counter
    method: Mapped[str] = mapped_column(String(16))  # gateway | upi | cash | cheque | dd
    gateway: Mapped[str | None] = mapped_column(String(32))
    gateway_order_id: Mapped[str | None] = mapped_column(String(80))
    gateway_payment_id: Mapped[str | None] = mapped_column(String(80))
    amount: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # what the amount is made of, rebate/penalty included
    status: Mapped[str] = mapped_column(String(16), default="created")  # created|succeeded|failed|expired
    outcome: Mapped[str | None] = mapped_column(String(16))  # applied | excess (the demand was already paid)
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    collected_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    instrument: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # cheque / DD number, date, bank
    business_date: Mapped[date | None] = mapped_column(Date)  # the local day it was collected on
    expires_at: Mapped[datetime | None] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative form

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class GatewayEvent(IdMixin, Base):
    """Every callback, browser return and reconciliation answer, accepted or not, with why."""

    __tablename__ = "payments_gateway_events"
    __audited__ = False  # it is itself the record of what arrived
    __table_args__ = (Index("ix_payments_gateway_events_payment", "payment_id", "received_at"),)

    gateway: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # callback | return | reconcile
    event_id: Mapped[str | None] = mapped_column(String(120))
    payment_id: Mapped[str | None] = mapped_column(String(36))
    local_body_code: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(24))  # settled | failed | duplicate | rejected | mismatch | pending
    reason: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Receipt(IdMixin, Base):
    """A numbered receipt for money received (kind payment) or paid back (kind refund)."""

    __tablename__ = "payments_receipts"

    number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # payment | refund
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"), index=True)
    financial_year: Mapped[str] = mapped_column(String(8))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments_payments.id"), index=True)
    demand_id: Mapped[str] = mapped_column(ForeignKey("payments_demands.id"), index=True)
    refund_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    method: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    business_date: Mapped[date] = mapped_column(Date)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class Refund(IdMixin, TimestampMixin, Base):
    __tablename__ = "payments_refunds"

    payment_id: Mapped[str] = mapped_column(ForeignKey("payments_payments.id"), index=True)
    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # requested | excess
    status: Mapped[str] = mapped_column(String(16), default="processed")
    gateway_refund_id: Mapped[str | None] = mapped_column(String(80))
    requested_by_id: Mapped[str | None] = mapped_column(String(36))

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class DayClose(IdMixin, Base):
    """A counter clerk's closed day: after it, that clerk records no more collections for that day."""

    __tablename__ = "payments_day_closes"
    __table_args__ = (UniqueConstraint("local_body_code", "business_date", "clerk_id"),)

    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    business_date: Mapped[date] = mapped_column(Date)
    clerk_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)
    by_head: Mapped[dict[str, int]] = mapped_column(JSON)
    by_method: Mapped[dict[str, int]] = mapped_column(JSON)
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class JournalEntry(IdMixin, Base):
    """One balanced voucher of the local body's double-entry accounts."""

    __tablename__ = "payments_journal_entries"
    __table_args__ = (Index("ix_payments_journal_day", "local_body_code", "entry_date"),)

    local_body_code: Mapped[str] = mapped_column(ForeignKey("local_bodies.code"))
    entry_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))  # receipt | refund
    source_id: Mapped[str] = mapped_column(String(36), unique=True)
    narration: Mapped[str] = mapped_column(String(255))
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_tenant(self) -> str:
        return self.local_body_code


class JournalLine(IdMixin, Base):
    __tablename__ = "payments_journal_lines"
    __audited__ = False  # audited through its entry, written in the same flush

    entry_id: Mapped[str] = mapped_column(ForeignKey("payments_journal_entries.id", ondelete="CASCADE"), index=True)
    account: Mapped[str] = mapped_column(String(16))
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)


class LocalGatewayOrder(Base):
    """The local gateway's own books (what a provider would keep on its side)."""

    __tablename__ = "payments_local_gateway_orders"
    __audited__ = False  # the provider's records, not the local body's

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(80))
    return_url: Mapped[str] = mapped_column(Text)
    callback_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="created")  # created | paid | failed
    payment_ref: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(16))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column()

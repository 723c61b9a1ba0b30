"""Payments API shapes. Money is integer paise."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Line(BaseModel):
    code: str
    head: str
    account: str
    name: dict[str, str]
    amount: int = Field(description="paise; a rebate line reduces the total")


class DemandOut(BaseModel):
    number: str
    kind: str
    local_body: str
    application: str | None
    property: str | None = Field(description="the assessment number, for property tax")
    period: str | None
    description: dict[str, str]
    amount: int
    due_date: date
    rebate_until: date | None
    status: str
    paid_amount: int
    paid_at: datetime | None
    lines: list[Line]
    amount_due_today: int
    lines_due_today: list[Line]
    pay_page: str


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["gateway", "upi"] = Field(default="gateway", description="the gateway's hosted page, or a UPI app")


class PaymentOut(BaseModel):
    id: str
    demand: str
    channel: str
    method: str
    gateway: str | None
    gateway_order_id: str | None
    amount: int
    lines: list[Line]
    status: str
    outcome: str | None
    redirect_url: str | None
    upi_link: str | None
    upi_qr: str | None
    created_at: datetime
    expires_at: datetime | None
    settled_at: datetime | None
    refunded_amount: int
    receipts: list[str]


class Instrument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=32)
    bank: str = Field(min_length=1, max_length=120)
    date: dt.date | None = None


class CounterPaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["cash", "cheque", "dd"]
    amount: int = Field(gt=0, description="paise; must equal the amount due today")
    instrument: Instrument | None = None


class ReceiptOut(BaseModel):
    number: str
    kind: str
    local_body: str
    financial_year: str
    demand: str
    payment: str
    amount: int
    method: str
    lines: list[dict[str, Any]]
    issued_at: datetime
    business_date: date
    pdf: str


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, description="paise; at most what is left of the payment")
    reason: str = Field(min_length=3, max_length=500)


class RefundOut(BaseModel):
    id: str
    payment: str
    amount: int
    reason: str
    kind: str
    status: str
    gateway_refund_id: str | None
    created_at: datetime


class PropertyDemandsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}/H[12]$", description="e.g. 2026-27/H1; default the current half"
    )


class PropertyDemandsOut(BaseModel):
    raised: int


class ClerkDay(BaseModel):
    clerk: str | None
    username: str | None
    count: int
    total: int
    by_head: dict[str, int]
    by_method: dict[str, int]
    receipts: list[str]
    closed_at: datetime | None


class DayReportOut(BaseModel):
    local_body: str
    date: dt.date
    clerks: list[ClerkDay]
    by_head: dict[str, int]
    total: int
    receipts_total: int


class DayCloseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    local_body_code: str
    business_date: date
    clerk_id: str
    count: int
    total: int
    by_head: dict[str, int]
    by_method: dict[str, int]
    closed_at: datetime


class DayCloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date | None = None


class TrialRowOut(BaseModel):
    account: str
    name: str
    debit: int
    credit: int


class TrialBalanceOut(BaseModel):
    local_body: str
    date: dt.date
    rows: list[TrialRowOut]
    debit_total: int
    credit_total: int
    balanced: bool


class CallbackOut(BaseModel):
    outcome: str

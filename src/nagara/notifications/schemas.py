from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["sms", "email", "whatsapp", "portal"]


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event: str
    application_number: str | None
    subject: str
    body: str
    link: str | None
    language: str
    created_at: datetime
    read_at: datetime | None


class InboxOut(BaseModel):
    items: list[NotificationOut]
    unread: int
    total: int


class ReadOut(BaseModel):
    changed: int


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(max_length=4, description="in order of preference; the portal always applies")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    opt_out: bool = Field(default=False, description="no SMS, e-mail or WhatsApp for messages the law does not require")


class PreferencesOut(BaseModel):
    channels: list[Channel]
    email: str | None
    opt_out: bool
    language: str


class ReceiptIn(BaseModel):
    id: str = Field(max_length=200)
    status: str = Field(max_length=32)


class ReceiptOut(BaseModel):
    id: str
    status: str


class DeliveryRow(BaseModel):
    channel: str
    event: str
    total: int
    statuses: dict[str, int]
    delivered_rate: float
    failed: int


class DeliveryOut(BaseModel):
    state: str
    since: datetime
    rows: list[DeliveryRow]

"""API shapes of the exchange: members, keys, consents, pulls and the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = Field(max_length=200)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_id: str = Field(max_length=255, description="The member's DID, # and a name")
    public_key: str = Field(max_length=64, description="Ed25519 public key, 32 bytes, base64url")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifier: str = Field(max_length=200, description="INSTANCE/CLASS/MEMBER/SUBSYSTEM")
    name: str = Field(min_length=1, max_length=200)
    did: str = Field(max_length=255)
    state: str = Field(max_length=8, description="The state whose administrator manages the member")
    base_url: str = Field(default="", max_length=255)
    services: list[str] = Field(default_factory=list, max_length=16)
    purposes: list[str] = Field(default_factory=list, max_length=32)
    requests_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    keys: list[KeyIn] = Field(default_factory=list, max_length=8)


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[str] | None = Field(default=None, max_length=16)
    purposes: list[str] | None = Field(default=None, max_length=32)
    status: str | None = Field(default=None, max_length=16)
    requests_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    base_url: str | None = Field(default=None, max_length=255)


class KeyOut(BaseModel):
    key_id: str
    public_key: str
    status: str
    created_at: datetime
    retired_at: datetime | None


class MemberOut(BaseModel):
    identifier: str
    name: str
    did: str
    state: str
    base_url: str
    services: list[str]
    purposes: list[str]
    status: str
    requests_per_minute: int
    keys: list[KeyOut]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = _ID
    service: str = Field(max_length=64)
    resource: str = Field(min_length=1, max_length=128)
    purpose: str = Field(max_length=64)
    days: int = Field(default=30, ge=1, le=365)


class ConsentOut(BaseModel):
    id: str
    member: str
    service: str
    resource: str
    purpose: str
    created_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None


class PullIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = _ID
    service: str = Field(max_length=64)
    purpose: str = Field(max_length=64)
    consent: str | None = Field(default=None, max_length=36)
    number: str = Field(min_length=1, max_length=64)


class PullOut(BaseModel):
    status: int
    exchange_id: str | None
    answer: dict[str, Any]


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member: str = _ID
    to_body: str = Field(min_length=2, max_length=96, description="The receiving local body's code at the member")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool
    reason: str = Field(min_length=1, max_length=1000)


class TransferOut(BaseModel):
    id: str
    direction: str
    member: str
    to_body: str
    status: str
    reason: str | None
    record_count: int
    created_at: datetime
    decided_at: datetime | None
    records: list[dict[str, Any]] = Field(default_factory=list)


class AccessOut(BaseModel):
    id: str
    direction: str
    member: str
    service: str
    purpose: str
    consent: str | None
    status: int
    at: datetime

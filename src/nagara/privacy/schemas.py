from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AccessSeenOut(BaseModel):
    at: datetime = Field(description="when the data was read")
    role: str = Field(description="the role of whoever read it (never the person)")
    role_name: dict[str, str] = Field(description="the role's name, by language")
    local_body: str | None = Field(description="the local body the record belongs to")
    local_body_name: dict[str, str] = Field(description="its name, by language")
    record_type: str = Field(description="application | document | ...")
    record: str = Field(description="the application number (and document type) read")
    purpose: str = Field(description="the purpose: the service the record was made for")
    purpose_name: dict[str, str] = Field(description="the service's name, by language")
    action: str = Field(description="read, or reveal when a masked value was shown on request")
    reason: str | None = Field(description="the reason given for a reveal")


class ErasureItemOut(BaseModel):
    number: str = Field(description="the application number")
    service: str
    service_name: dict[str, str]
    status: str = Field(description="erasable (a draft), withdraw_first (being decided) or kept_by_law (a register entry)")
    empty: bool = Field(description="a draft whose answers and documents are already erased")


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    application: str = Field(min_length=1, max_length=64, description="the number of the application to erase")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(max_length=64, description="one of the purposes for which consent is the basis")
    days: int = Field(default=180, ge=1, le=365, description="how long the consent is valid")
    fiduciary: str | None = Field(
        default=None,
        max_length=96,
        pattern=r"^[a-z]{2,8}(\.[a-z0-9][a-z0-9-]*)?$",
        description="your state or a local body of it",
    )


class ConsentCheckOut(BaseModel):
    signature: bool = Field(description="the artefact is the one the platform signed, unchanged")
    on_ledger: bool = Field(description="a ledger entry commits to the artefact's hash")
    withdrawal_signature: bool | None
    withdrawal_on_ledger: bool | None


class ConsentOut(BaseModel):
    id: str
    purpose: str
    purpose_name: str = Field(description="the purpose, in the request's language")
    fiduciary: str
    recipient: str | None
    status: str = Field(description="active, expired or withdrawn")
    valid_from: datetime
    valid_until: datetime
    given_via: str
    withdrawn_at: datetime | None
    artefact: dict[str, Any] = Field(description="the consent artefact (ECF / Account Aggregator shape)")
    signed: str = Field(description="its compact JWS (EdDSA) by the platform's credential key")
    sha256: str = Field(description="SHA-256 of its RFC 8785 form, committed to on the public ledger")
    withdrawal: dict[str, Any] | None
    withdrawal_signed: str | None
    withdrawal_sha256: str | None
    verified: ConsentCheckOut | None = Field(default=None, description="checked now: signatures and ledger entries")

from __future__ import annotations

from datetime import datetime

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

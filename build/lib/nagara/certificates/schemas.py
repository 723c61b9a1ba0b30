"""API shapes of the certificates domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Links(BaseModel):
    pdf: str
    credential: str
    verify: str
    status_lists: list[str]


class EditionOut(BaseModel):
    number: str
    edition: int
    credential_id: str
    status: str = Field(description="active, suspended, revoked or superseded")
    status_reason: str | None
    status_changed_at: datetime | None
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    expired: bool
    application_number: str


class CertificateOut(EditionOut):
    output_type: str
    title: dict[str, str]
    local_body: str
    issuer: str
    links: Links
    editions: list[EditionOut]


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=5, max_length=500, description="why; recorded in the audit trail")


class ReissueIn(ReasonIn):
    corrections: dict[str, Any] = Field(default_factory=dict, description="form fields to correct, with their right values")


class VerifyOptions(BaseModel):
    model_config = ConfigDict(extra="allow")


class VerifyIn(BaseModel):
    """VC-API ``POST /credentials/verify``."""

    verifiableCredential: dict[str, Any]  # noqa: N815 - the VC-API's field name
    options: VerifyOptions | None = None


class LedgerEntryOut(BaseModel):
    index: int
    type: str
    time: str
    inclusion_proof_verified: bool
    content_matches: bool
    proof: str


class LedgerOut(BaseModel):
    checkpoint_size: int | None
    origin: str | None
    entries: list[LedgerEntryOut]
    pending: int


class VerifyOut(BaseModel):
    verified: bool = Field(description="the signature checks with this node's issuer key")
    status: str = Field(description="current, revoked, suspended, expired, superseded, not_yet_valid or invalid")
    checks: list[str]
    warnings: list[str]
    errors: list[str]
    certificate: dict[str, Any]
    ledger: LedgerOut | None = None

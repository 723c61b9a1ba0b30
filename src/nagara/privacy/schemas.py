from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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


_CATEGORIES = Field(default=None, max_length=50)


class BreachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(max_length=96, pattern=r"^[a-z]{2,8}(\.[a-z0-9][a-z0-9-]*)?$", description="the state or local body")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5000, description="nature, extent, timing and location")
    discovered_at: AwareDatetime | None = Field(
        default=None, description="when it came to light (with its offset); now if not given"
    )
    occurred_at: AwareDatetime | None = Field(default=None, description="when it happened, if known (with its offset)")
    data_categories: list[str] | None = _CATEGORIES
    people_categories: list[str] | None = _CATEGORIES
    measures: str = Field(default="", max_length=5000)


class BreachAssessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    applications: list[str] | None = Field(default=None, max_length=10000, description="numbers whose applicants are affected")
    users: list[str] | None = Field(default=None, max_length=10000, description="ids of affected people")
    data_categories: list[str] | None = _CATEGORIES
    people_categories: list[str] | None = _CATEGORIES
    measures: str | None = Field(default=None, max_length=5000)
    consequences: str | None = Field(default=None, max_length=5000)
    safety_steps: str | None = Field(default=None, max_length=5000)
    contact: str | None = Field(default=None, max_length=200)


class BreachReportIn(BaseModel):
    """The detailed report to the Board (Rule 7(2)(b)): its six items."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=10000, description="updated and detailed information on the breach")
    facts: str = Field(min_length=1, max_length=10000, description="the events, circumstances and reasons that led to it")
    mitigation: str = Field(min_length=1, max_length=10000, description="measures implemented or proposed to mitigate risk")
    findings: str = Field(min_length=1, max_length=10000, description="findings about the person who caused it")
    remedial: str = Field(min_length=1, max_length=10000, description="remedial measures to prevent its recurrence")
    intimations: str = Field(
        min_length=1, max_length=10000, description="a report on the intimations given to the people affected"
    )


class DueOut(BaseModel):
    what: str = Field(description="board_intimation, people, cert_in or board_report")
    due_at: datetime
    done_at: datetime | None
    overdue: bool = Field(description="not done by its due time (or done late)")


class BreachOut(BaseModel):
    id: str
    state_code: str
    local_body_code: str | None
    title: str
    description: str
    discovered_at: datetime
    occurred_at: datetime | None
    data_categories: list[str]
    people_categories: list[str]
    measures: str
    consequences: str
    safety_steps: str
    contact: str
    affected: int = Field(description="people affected, as assessed")
    notified: int = Field(description="of them, told")
    board_intimated_at: datetime | None
    cert_in_reported_at: datetime | None
    principals_notified_at: datetime | None
    report: dict[str, str] | None
    report_submitted_at: datetime | None
    due: list[DueOut]

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentRequest(Strict):
    service: str = Field(description="the service the operator will apply for, such as birth-registration")
    mobile: str = Field(description="the citizen's mobile number, to which the consent code is sent")


class ConsentSent(BaseModel):
    challenge_id: str = Field(description="give it, with the code the citizen reads out, in on_behalf_of")
    expires_in: int = Field(description="seconds")


class OnBehalfOf(Strict):
    mobile: str = Field(description="the citizen's mobile number")
    challenge_id: str = Field(description="from POST /api/v1/tenants/{tenant}/consent-codes for the citizen's number")
    code: str = Field(description="the code the citizen received: their consent")


class ApplicationCreate(Strict):
    service: str = Field(description="service code, such as birth-registration")
    data: dict[str, Any] = Field(description="the form, as the service's JSON Schema describes it")
    submit: bool = Field(
        default=False,
        description=(
            "false (the default) keeps a draft: upload its documents (documents_missing in the answer lists the"
            " required ones), then POST .../actions with action 'submit'. true submits at once, which only works"
            " when the service requires no document for this form (a 422 names each missing one otherwise)"
        ),
    )
    ward: int | None = Field(default=None, ge=0, le=100_000, description="ward number within the local body")
    on_behalf_of: OnBehalfOf | None = None


class DraftUpdate(Strict):
    data: dict[str, Any] = Field(
        description="the whole form; while returned for correction only the fields the office named may differ "
        "(422 names any other)"
    )
    version: int = Field(description="the version you read; a stale one is refused with 412")


class CorrectIn(Strict):
    fields: list[str] | None = Field(default=None, max_length=200, description="form fields to correct; leave out for all")
    documents: list[str] | None = Field(default=None, max_length=100, description="document codes to correct; leave out for all")


class ActionIn(Strict):
    action: str = Field(description="an action the application's current state allows, or 'submit' for a draft")
    version: int = Field(description="the version you read; a stale one is refused with 412")
    comment: str | None = Field(default=None, max_length=2000)
    correct: CorrectIn | None = Field(
        default=None,
        description="with an action that returns the application to the applicant: what they may correct (default: everything); "
        "the comment says why",
    )


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor_role: str
    comment: str | None
    data: dict[str, Any] | None = Field(
        default=None, description="what the step recorded: the correction asked for, changed fields' keyed hashes, files' hashes"
    )


class CorrectionOut(BaseModel):
    fields: list[str] = Field(description="the form fields the applicant may change")
    documents: list[str] = Field(description="the documents the applicant may replace or remove")
    reason: str | None
    asked_at: datetime


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    doc_type: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    verified_at: datetime | None


class BreachOut(BaseModel):
    kind: str
    state: str
    due_at: datetime
    detected_at: datetime
    escalated_to: str | None
    compensation_owed: int = Field(description="paise owed to the applicant so far")


class ActionOut(BaseModel):
    code: str
    name: dict[str, str]
    comment_required: bool = False


class ApplicationSummary(BaseModel):
    number: str
    service: str
    local_body: str
    state: str
    state_name: dict[str, str]
    is_open: bool
    outcome: str | None
    version: int
    submitted_at: datetime | None
    state_due_at: datetime | None
    service_due_at: datetime | None
    overdue: bool
    assigned_role: str | None
    assigned_to: str | None


class ApplicationOut(ApplicationSummary):
    data: dict[str, Any]
    fee_lines: list[dict[str, Any]]
    fee_total: int
    fee_paid: bool
    appeal_level: int
    history: list[HistoryOut]
    documents: list[DocumentOut]
    breaches: list[BreachOut]
    actions: list[ActionOut] = Field(description="what the caller may do now")
    documents_missing: list[str] = Field(
        description="the document types the service requires for this form that are not uploaded yet (a draft cannot be"
        " submitted before)"
    )
    correction: CorrectionOut | None = Field(description="while returned for correction: what the office asked to correct")


class BulkItemIn(Strict):
    number: str = Field(description="an application number")
    version: int = Field(description="the version you read; a stale one refuses the whole action")


class BulkActionIn(Strict):
    action: str = Field(description="the workflow action to take on every application")
    comment: str | None = Field(default=None, max_length=2000, description="one comment, recorded on each application")
    items: list[BulkItemIn] = Field(description="1 to 100 applications, each with the version you read")


class BulkActionOut(BaseModel):
    action: str
    done: int
    applications: list[ApplicationSummary]


class DueBucketOut(BaseModel):
    name: str = Field(description="overdue, today, tomorrow or this_week")
    starts: datetime | None
    ends: datetime
    count: int = Field(description="every application in the bucket")
    applications: list[ApplicationSummary] = Field(description="the most urgent first, at most `limit`")


class DueViewOut(BaseModel):
    today: str = Field(description="the office day, in the state's time zone")
    timezone: str
    buckets: list[DueBucketOut]

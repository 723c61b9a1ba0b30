"""The grievances API's bodies and answers. Public answers never carry the citizen's name, mobile or id."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrievanceIn(Strict):
    category: str = Field(max_length=64)
    description: str = Field(max_length=4000, description="what is wrong, at most 4,000 characters")
    ward: int | None = Field(default=None, ge=1, le=10_000, description="the ward's number at this local body")
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    attributes: dict[str, Any] = Field(default_factory=dict, description="answers to the category's attributes")
    caller_mobile: str | None = Field(
        default=None, max_length=20, description="filing for a caller (call centre, counter): their mobile number"
    )


class GrievanceActIn(Strict):
    action: Literal["start", "assign", "transfer", "interim_reply", "resolve", "confirm", "reopen", "rate", "merge"]
    version: int = Field(ge=1, le=2**31)
    comment: str | None = Field(default=None, max_length=2000)
    rating: int | None = Field(default=None, ge=1, le=5)
    due_on: datetime | None = None
    to_user: str | None = Field(default=None, max_length=36)
    to_category: str | None = Field(default=None, max_length=64)
    to_local_body: str | None = Field(default=None, max_length=80)
    into: str | None = Field(default=None, max_length=64)


class BulkAssignIn(Strict):
    numbers: list[str] = Field(min_length=1, max_length=100)
    to_user: str = Field(max_length=36)


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor_role: str
    comment: str | None


class PublicGrievanceOut(BaseModel):
    number: str
    local_body: str
    ward: str | None
    category: str
    category_name: dict[str, str]
    department: str
    state: str
    status: Literal["open", "closed"]
    level: int
    due_at: datetime | None
    overdue: bool
    description: str
    address: str | None
    lat: float | None
    lon: float | None
    supporters: int
    filed_at: datetime
    updated_at: datetime
    rating: int | None


class GrievanceOut(PublicGrievanceOut):
    version: int
    public: bool
    attributes: dict[str, Any]
    assigned_role: str | None
    assigned_to: str | None
    resolution_note: str | None
    reopen_count: int
    appeal_level: int
    merged_into: str | None
    allowed_actions: list[str]
    history: list[StepOut]


class CategoryOut(BaseModel):
    code: str
    name: dict[str, str]
    help: dict[str, str]
    department: dict[str, Any]
    public: bool
    location_required: bool
    resolution_photo: bool
    levels: list[dict[str, Any]]
    attributes: list[dict[str, Any]]

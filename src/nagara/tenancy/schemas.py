from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Orm(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StateOut(Orm):
    code: str
    lgd_code: int
    name: dict[str, str]
    languages: list[str]
    timezone: str
    ledger_origin: str | None


class DistrictOut(Orm):
    code: str
    lgd_code: int
    name: dict[str, str]


class LocalBodyOut(Orm):
    code: str
    state_code: str
    district_code: str
    lgd_code: int | None
    type: str
    local_type_name: dict[str, str] | None
    name: dict[str, str]
    parent_code: str | None


class WardOut(Orm):
    code: str
    number: int
    name: dict[str, str]


class LocalBodySettings(BaseModel):
    local_body: str
    settings: dict[str, Any]


class WorkingDay(BaseModel):
    date: str
    working: bool


class PackErrorOut(BaseModel):
    file: str
    path: str
    message: str


class PackStatusOut(BaseModel):
    state: str
    directory: str | None = Field(description="the pack folder on this node; none when it is missing")
    valid: bool = Field(description="the folder passes every check of `nagara pack validate`")
    in_sync: bool = Field(description="the folder is what the database has loaded")
    loaded_digest: str
    loaded_at: datetime
    disk_digest: str | None
    counts: dict[str, int]
    errors: list[PackErrorOut]

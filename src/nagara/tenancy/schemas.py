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


class ServiceChangesOut(BaseModel):
    added: list[str] = Field(description="services in the folder that are not offered: loading it offers them")
    removed: list[str] = Field(description="services offered that the folder no longer has: loading it withdraws them")
    changed: list[str] = Field(
        description="services whose definition, certificate template or layout differ from the loaded version"
    )
    withdrawn: list[str] = Field(
        description="services withdrawn by an earlier load; applications already made under them go on"
    )


class PackStatusOut(BaseModel):
    state: str
    directory: str | None = Field(description="the pack folder on this node; none when it is missing")
    valid: bool = Field(description="the folder passes every check of `nagara pack validate`")
    in_sync: bool = Field(
        description="the folder is what the database has loaded: the same digest, and no service to add, withdraw or change"
    )
    loaded_from: str | None = Field(description="the folder the loaded pack was read from (none before it was recorded)")
    loaded_digest: str
    loaded_at: datetime = Field(description="when a load last changed the state's pack")
    services: ServiceChangesOut | None = Field(description="the folder's services beside the loaded ones; none when invalid")
    disk_digest: str | None
    counts: dict[str, int]
    errors: list[PackErrorOut]

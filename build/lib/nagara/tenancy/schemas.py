from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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

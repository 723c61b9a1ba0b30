from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field


class TenantOut(BaseModel):
    code: str = Field(description="'kl' for a state, 'kl.tvm-corp' for a local body")
    kind: str = Field(description="state or local_body")
    type: str | None = Field(default=None, description="the local body's type")
    name: dict[str, str]
    parent: str | None = None
    lgd_code: int | None = None


class FeeItemOut(BaseModel):
    code: str
    name: dict[str, str]
    head: str
    kind: str
    amount: int | None = Field(default=None, description="paise, for fixed fees")
    account: str | None = Field(default=None, description="the chart of accounts' head it is booked to")
    condition: str | None = Field(
        default=None, description="when it is charged, in words in the request's language; none: on every application"
    )


class FeeCondition(BaseModel):
    text: str = Field(description="the condition in words, in the request's language")
    holds: bool = Field(description="whether it holds for this form today")


class FeePreviewLine(BaseModel):
    code: str
    name: dict[str, str]
    head: str
    account: str | None = None
    amount: int = Field(description="paise charged: 0 when the item does not apply or is waived")
    applies: bool = Field(description="whether the item's conditions hold and it comes to more than nothing")
    waived_by: dict[str, str] | None = Field(default=None, description="the exemption's reason, when waived")
    why: str = Field(description="why it is charged or not, in the request's language")
    conditions: list[FeeCondition]


class FeePreviewOut(BaseModel):
    number: str
    assessed_on: date = Field(description="the day the fee is worked out for: today in the state's time zone")
    lines: list[FeePreviewLine] = Field(description="every fee item of the service, charged or not")
    total: int = Field(description="paise the application would owe if submitted today")


class ServiceSummary(BaseModel):
    code: str
    name: dict[str, str]
    description: dict[str, str]
    category: str
    sla_days: int = Field(description="statutory time limit of the whole service, in working days")
    designated_officer: str
    fees: list[FeeItemOut]


class ServiceOut(ServiceSummary):
    version: int = Field(description="the service version new applications use")
    form: dict[str, Any] = Field(description="JSON Schema 2020-12 (schema) and UI hints (ui)")
    documents: list[dict[str, Any]]
    workflow: dict[str, Any]
    output: dict[str, Any]
    legal_basis: str | None = None


class StateTimeLimit(BaseModel):
    state: str
    name: dict[str, str]
    role: str | None = Field(description="who holds an application in this state; none for a final state")
    sla_days: int | None = Field(description="working days allowed in this state")
    escalate_to: str | None = None
    final: bool = False


class ServiceSettingOut(BaseModel):
    code: str
    name: dict[str, str]
    category: str
    version: int = Field(description="the service version new applications here use")
    offered: bool = Field(description="whether this type of local body offers the service")
    sla_days: int = Field(description="statutory time limit of the whole service, in working days")
    designated_officer: str
    states: list[StateTimeLimit]
    fees: list[dict[str, Any]] = Field(description="the fee items as defined (amounts in paise), overrides applied")
    overridden: list[str] = Field(description="paths this local body overrides, such as 'fees.items'")


class LocalBodyServiceSettings(BaseModel):
    local_body: str
    settings_overridden: list[str] = Field(description="paths of the state's defaults this body overrides")
    settings: dict[str, Any] = Field(description="the state's defaults with this body's overrides (services left out)")
    services: list[ServiceSettingOut]

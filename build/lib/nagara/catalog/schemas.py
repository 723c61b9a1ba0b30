from __future__ import annotations

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

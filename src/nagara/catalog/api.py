"""Public reads of the catalogue: tenants and the services each offers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.catalog.fees import conditions_words
from nagara.catalog.schemas import (
    FeeItemOut,
    LocalBodyServiceSettings,
    ServiceOut,
    ServiceSettingOut,
    ServiceSummary,
    StateTimeLimit,
    TenantOut,
)
from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX
from nagara.tenancy import context
from nagara.tenancy.context import thaw
from nagara.tenancy.models import LocalBody, State

router = APIRouter(prefix=API_PREFIX, tags=["catalog"])


@router.get("/tenants", response_model=list[TenantOut])
def tenants(session: DbSession) -> list[TenantOut]:
    """Every state on this node and its local bodies."""
    out: list[TenantOut] = []
    for st in session.scalars(select(State).order_by(State.code)):
        out.append(TenantOut(code=st.code, kind="state", name=st.name, lgd_code=st.lgd_code))
    for body in session.scalars(select(LocalBody).order_by(LocalBody.code)):
        out.append(
            TenantOut(
                code=body.code, kind="local_body", type=body.type, name=body.name, parent=body.state_code, lgd_code=body.lgd_code
            )
        )
    return out


def _summary(service: Service) -> dict[str, object]:
    d = service.definition
    return {
        "code": d["code"],
        "name": d["name"],
        "description": d["description"],
        "category": d["category"],
        "sla_days": d["workflow"]["sla_days"],
        "designated_officer": d["workflow"]["designated_officer"],
        "fees": [
            FeeItemOut(
                code=i["code"],
                name=i["name"],
                head=i.get("head", "fee"),
                kind=i["kind"],
                amount=i.get("amount"),
                account=i.get("account"),
                condition=conditions_words(d, i.get("when")),
            )
            for i in d.get("fees", {}).get("items", [])
        ],
    }


@router.get("/tenants/{tenant}/services", response_model=list[ServiceSummary])
def services(tenant: str, session: DbSession) -> list[ServiceSummary]:
    """Services a state defines, or a local body offers (with its own fees where it overrides them)."""
    return [ServiceSummary.model_validate(_summary(s)) for s in catalog.list_services(session, tenant)]


@router.get("/tenants/{tenant}/services/{code}", response_model=ServiceOut)
def service(tenant: str, code: str, session: DbSession) -> ServiceOut:
    """One service with its form schema, documents, fees, workflow and output."""
    s = catalog.get_service(session, tenant, code)
    d = s.definition
    return ServiceOut.model_validate(
        {
            **_summary(s),
            "version": catalog.version_number(session, s.version_id),
            "form": d["form"],
            "documents": d.get("documents", []),
            "workflow": d["workflow"],
            "output": d["output"],
            "legal_basis": d.get("legal_basis"),
        }
    )


def _time_limits(service: Service) -> list[StateTimeLimit]:
    return [
        StateTimeLimit(
            state=code,
            name=state["name"],
            role=state.get("role"),
            sla_days=state.get("sla_days"),
            escalate_to=state.get("escalate_to"),
            final=bool(state.get("final")),
        )
        for code, state in service.workflow["states"].items()
    ]


@router.get("/local-bodies/{code}/service-settings", response_model=LocalBodyServiceSettings)
def service_settings(code: str, session: DbSession, principal: CurrentPrincipal) -> LocalBodyServiceSettings:
    """For administrators: every service of the state as this body runs it, and what the body overrides."""
    rows = catalog.service_settings(session, principal, code)
    place = context.body_place(session, code)
    own = {k: v for k, v in thaw(place.body.overrides).items() if k != "services"}
    settings = {k: v for k, v in thaw(place.settings).items() if k != "services"}
    return LocalBodyServiceSettings(
        local_body=code,
        settings_overridden=catalog.override_paths(own),
        settings=settings,
        services=[
            ServiceSettingOut(
                code=r.service.code,
                name=r.service.definition["name"],
                category=r.service.definition["category"],
                version=r.version,
                offered=r.offered,
                sla_days=r.service.workflow["sla_days"],
                designated_officer=r.service.workflow["designated_officer"],
                states=_time_limits(r.service),
                fees=list(r.service.definition.get("fees", {}).get("items", [])),
                overridden=r.overridden,
            )
            for r in rows
        ],
    )

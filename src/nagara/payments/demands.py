"""Demands: raising them (an application's fee, the half-year's property tax), finding them, and
what paying one costs today. Also the calls the workflow makes about an application's fee.

Demand numbers are a register of the local body (``KL-TVMCORP-D-2026-27-000001``, property tax
``...-PT-...``), taken in the writing transaction just before the demand is inserted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.applications.service import service_for
from nagara.kit import numbers
from nagara.kit.access import Principal
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Invalid, NotFound
from nagara.payments import accounts, property_tax
from nagara.payments.models import Demand, DemandLine, Property
from nagara.payments.service import demand_visible, local_day, payment_settings
from nagara.tenancy import context as tenancy
from nagara.web.i18n import LANGUAGES, N_, translations

# An application's demand says what it is for in every interface language (the service's own name
# from the pack, which carries all of them), so pages, receipts and the API show it translated.
FEE_DESCRIPTION = N_("Fee for application %(number)s (%(service)s)")

# -- reading -------------------------------------------------------------------------------------


def get_demand(session: Session, principal: Principal, number: str, *, for_update: bool = False) -> Demand:
    query = select(Demand).where(Demand.number == number, demand_visible(principal))
    if for_update:
        query = query.with_for_update()
    demand = session.scalar(query)
    if demand is None:
        raise NotFound(f"no demand {number!r} that you may see")
    return demand


def list_demands(
    session: Session,
    principal: Principal,
    *,
    local_body: str | None = None,
    status: str | None = None,
    application: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Demand]:
    query = select(Demand).where(demand_visible(principal))
    if local_body:
        query = query.where(Demand.local_body_code == local_body)
    if status:
        query = query.where(Demand.status == status)
    if application:
        query = query.join(Application, Application.id == Demand.application_id).where(Application.number == application)
    return list(session.scalars(query.order_by(Demand.created_at.desc(), Demand.number).limit(limit).offset(offset)))


def demand_of_application(session: Session, principal: Principal, number: str) -> Demand | None:
    """The fee demand of application ``number``, if there is one the principal may see."""
    found = list_demands(session, principal, application=number, limit=1)
    return found[0] if found else None


def find_demand(session: Session, principal: Principal, query: str) -> Demand | None:
    """What a counter clerk typed: a demand's number, or the number of the application it bills."""
    query = query.strip().upper()
    if not query:
        return None
    demand = session.scalar(select(Demand).where(Demand.number == query, demand_visible(principal)))
    return demand if demand is not None else demand_of_application(session, principal, query)


def pay_page(session: Session, demand: Demand) -> str:
    """Where the payer pays: the application's pay page, or the demand's."""
    app = session.get(Application, demand.application_id) if demand.application_id else None
    return pay_page_of(demand, app.number if app is not None else None)


def pay_page_of(demand: Demand, application_number: str | None) -> str:
    """``pay_page`` for a demand whose application's number (if it bills one) was read already."""
    return f"/applications/{application_number}/pay" if application_number else f"/demands/{demand.number}/pay"


def demand_lines(session: Session, demand: Demand) -> list[DemandLine]:
    return list(session.scalars(select(DemandLine).where(DemandLine.demand_id == demand.id).order_by(DemandLine.seq)))


def _line_dict(ln: DemandLine) -> dict[str, Any]:
    return {"code": ln.code, "head": ln.head, "account": ln.account, "name": ln.name, "amount": ln.amount}


def line_dicts(session: Session, demand: Demand) -> list[dict[str, Any]]:
    """The demand's lines as raised (no rebate or penalty), as the API and the pages show them."""
    return [_line_dict(ln) for ln in demand_lines(session, demand)]


def lines_of(session: Session, demand_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``line_dicts`` of many demands in one statement, by demand id (a list's page)."""
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in demand_ids}
    if demand_ids:
        query = select(DemandLine).where(DemandLine.demand_id.in_(demand_ids)).order_by(DemandLine.demand_id, DemandLine.seq)
        for ln in session.scalars(query):
            found[ln.demand_id].append(_line_dict(ln))
    return found


def application_numbers(session: Session, demands: list[Demand]) -> dict[str, str]:
    """The numbers of the applications these demands bill, by application id, in one statement."""
    ids = {d.application_id for d in demands if d.application_id}
    if not ids:
        return {}
    return dict(session.execute(select(Application.id, Application.number).where(Application.id.in_(ids))).all())


def assessment_numbers(session: Session, demands: list[Demand]) -> dict[str, str]:
    """The assessment numbers of the properties these demands tax, by property id, in one statement."""
    ids = {d.property_id for d in demands if d.property_id}
    if not ids:
        return {}
    return dict(session.execute(select(Property.id, Property.assessment_number).where(Property.id.in_(ids))).all())


def amount_due(session: Session, demand: Demand, on: date) -> tuple[int, list[dict[str, Any]]]:
    """What paying ``demand`` on ``on`` costs, and its lines (a rebate or penalty included)."""
    return amount_due_of(demand, line_dicts(session, demand), on)


def amount_due_of(demand: Demand, lines: list[dict[str, Any]], on: date) -> tuple[int, list[dict[str, Any]]]:
    """``amount_due`` from the demand's lines as raised, read already (they are not changed)."""
    lines = list(lines)
    if demand.kind == "property_tax":
        lines += property_tax.adjustments(demand.rules, lines, due=demand.due_date, rebate_until=demand.rebate_until, on=on)
    return property_tax.total(lines), lines


# -- raising -------------------------------------------------------------------------------------


def _add_lines(session: Session, demand: Demand, lines: list[dict[str, Any]]) -> None:
    for seq, line in enumerate(lines, 1):
        session.add(
            DemandLine(
                demand_id=demand.id,
                seq=seq,
                code=line["code"],
                head=line["head"],
                account=accounts.account_for(line["head"], line.get("account")),
                name=line["name"],
                amount=line["amount"],
            )
        )


def fee_description(number: str, service_name: dict[str, str]) -> dict[str, str]:
    """``{language: "Fee for application N (the service's name)"}`` in every interface language."""
    # A service version loaded before its pack carried every language shows its English name, as pages do.
    return {
        lang: translations(lang).gettext(FEE_DESCRIPTION)
        % {"number": number, "service": service_name.get(lang) or service_name["en"]}
        for lang in LANGUAGES
    }


def raise_for_application(session: Session, app: Application, *, then_state: str | None, now: datetime) -> Demand:
    """The application's fee as a demand, payable by the applicant; raised at submission."""
    day = local_day(session, app.state_code, now)
    fy = property_tax.financial_year(day)
    due_days = int(payment_settings(session, app.local_body_code).get("fee_due_days", 30))
    demand = Demand(
        id=new_id(),
        number=numbers.next_number(session, app.local_body_code, "D", fy),  # last: just before the insert
        state_code=app.state_code,
        local_body_code=app.local_body_code,
        kind="application",
        application_id=app.id,
        payer_id=app.applicant_id,
        description=fee_description(app.number, service_for(session, app).definition["name"]),
        amount=app.fee_total,
        due_date=day + timedelta(days=due_days),
        then_state=then_state,
    )
    session.add(demand)
    _add_lines(session, demand, [ln for ln in app.fee_lines if ln["amount"]])
    return demand  # written by the workflow step's one flush


def register_property(
    session: Session,
    *,
    local_body_code: str,
    assessment_number: str,
    usage: str,
    zone: int,
    plinth_area_sqm: int,
    owner_id: str | None = None,
    ward_code: str | None = None,
) -> Property:
    body = tenancy.body_place(session, local_body_code).body  # NotFound names the codes allowed
    rules = payment_settings(session, local_body_code).get("property_tax")
    if not rules:
        raise Invalid(
            "no property tax rules",
            [{"loc": ["local_body"], "msg": "the pack defines no property tax here", "type": "value_error"}],
        )
    try:
        property_tax.rate_for(rules, usage, zone)
    except ValueError as exc:
        raise Invalid("unknown use or zone", [{"loc": ["body", "usage"], "msg": str(exc), "type": "value_error"}]) from None
    prop = Property(
        local_body_code=local_body_code,
        state_code=body.state_code,
        ward_code=ward_code,
        assessment_number=assessment_number,
        usage=usage,
        zone=zone,
        plinth_area_sqm=plinth_area_sqm,
        owner_id=owner_id,
    )
    session.add(prop)
    session.flush()
    return prop


def raise_property_demands(
    session: Session, local_body_code: str, period: str | None = None, *, now: datetime | None = None
) -> int:
    """A demand for the half-year for every active property that has none yet. Idempotent."""
    now = now or utcnow()
    body = tenancy.body_place(session, local_body_code).body  # NotFound names the codes allowed
    rules = payment_settings(session, local_body_code).get("property_tax")
    if not rules:
        return 0
    try:
        half = (
            property_tax.parse_period(rules, period)
            if period
            else property_tax.half_for(rules, local_day(session, body.state_code, now))
        )
    except (ValueError, IndexError) as exc:
        raise Invalid(
            "unknown period", [{"loc": ["body", "period"], "msg": f"{exc}; write it as 2026-27/H1", "type": "value_error"}]
        ) from None
    have = select(Demand.property_id).where(Demand.period == half.period, Demand.local_body_code == local_body_code)
    props = list(
        session.scalars(
            select(Property)
            .where(Property.local_body_code == local_body_code, Property.is_active.is_(True), Property.id.not_in(have))
            .order_by(Property.assessment_number)
        )
    )
    if not props:
        return 0
    prefix = numbers.register_prefix(local_body_code, "PT", half.financial_year)
    first = numbers.take(session, prefix, len(props))  # one block, in this transaction, after every read
    for offset, prop in enumerate(props):
        lines = property_tax.half_year_lines(rules, usage=prop.usage, zone=prop.zone, area_sqm=prop.plinth_area_sqm)
        demand = Demand(
            id=new_id(),
            number=numbers.register_number(prefix, first + offset),
            state_code=body.state_code,
            local_body_code=local_body_code,
            kind="property_tax",
            property_id=prop.id,
            period=half.period,
            payer_id=prop.owner_id,
            description={"en": f"Property tax {half.period}, assessment {prop.assessment_number}"},
            amount=property_tax.total(lines),
            due_date=half.due,
            rebate_until=half.rebate_until,
            rules={k: rules[k] for k in ("rebate_bp", "penalty_bp_per_month", "penalty_max_months") if k in rules},
        )
        session.add(demand)
        _add_lines(session, demand, lines)
    session.flush()
    return len(props)


# -- what the workflow calls ---------------------------------------------------------------------


def cancel_for_application(session: Session, app: Application) -> None:
    """The application ended without its fee: its demand is cancelled (a later success is refunded as an excess)."""
    demand = session.scalar(select(Demand).where(Demand.application_id == app.id).with_for_update())
    if demand is not None and demand.status == "due":
        demand.status = "cancelled"


def reopen_for_application(session: Session, app: Application) -> None:
    """An application reopened (an appeal allowed) owes its fee again."""
    demand = session.scalar(select(Demand).where(Demand.application_id == app.id).with_for_update())
    if demand is not None and demand.status == "cancelled":
        demand.status = "due"

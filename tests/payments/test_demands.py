"""Demands: self-certified approval waits for the fee; property tax per half-year with rebate and penalty."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from nagara.kit.errors import Invalid
from nagara.payments import demands, property_tax
from nagara.payments.demo import load_demo_properties
from nagara.payments.models import Demand
from nagara.payments.service import local_day
from nagara.tenancy.packs import read_pack
from tests.conftest import PACKS
from tests.payments.conftest import FEE, Pay

KL_RULES: dict[str, Any] = read_pack(PACKS / "kl").meta["defaults"]["payments"]["property_tax"]
KA_RULES: dict[str, Any] = read_pack(PACKS / "ka").meta["defaults"]["payments"]["property_tax"]


def test_a_self_certified_approval_waits_for_the_fee(pay: Pay) -> None:
    app = pay.apply(self_certified=True)
    assert app["state"] == "scrutiny" and app["fee_paid"] is False  # not approved before the fee is paid
    assert [h["action"] for h in app["history"]] == ["submit"]
    demand = pay.demand_of(app["number"])
    pay.counter(demand["number"], FEE)
    after = pay.application(app["number"])
    assert after["state"] == "approved" and after["outcome"] == "approved"
    assert [h["action"] for h in after["history"]] == ["submit", "fee_paid", "self_certified"]


def test_without_self_certification_payment_does_not_decide(pay: Pay) -> None:
    app = pay.apply()
    pay.counter(pay.demand_of(app["number"])["number"], FEE)
    assert pay.application(app["number"])["state"] == "scrutiny"


def register(pay: Pay, body: str, owner: str | None = "citizen1", **kw: Any) -> None:
    with pay.runtime.db.unit_of_work() as s:
        demands.register_property(
            s,
            local_body_code=body,
            assessment_number=kw.pop("number", "12/345"),
            usage=kw.pop("usage", "residential"),
            zone=kw.pop("zone", 1),
            plinth_area_sqm=kw.pop("area", 120),
            owner_id=pay.people.users[owner].id if owner else None,
        )


def test_property_tax_demands_per_half_year_from_the_register(pay: Pay) -> None:
    register(pay, pay.body)
    register(pay, pay.body, number="12/346", usage="commercial", zone=2, area=40, owner=None)
    url = f"/api/v1/local-bodies/{pay.body}/property-tax/demands"
    assert pay.client.post(url, json={"period": "2026-27/H2"}, headers=pay.h("a_counter_clerk")).status_code == 403
    bad = pay.client.post(url, json={"period": "2026/H3"}, headers=pay.h("a_secretary"))
    assert bad.status_code == 422
    raised = pay.client.post(url, json={"period": "2026-27/H2"}, headers=pay.h("a_secretary"))
    assert raised.status_code == 200 and raised.json() == {"raised": 2}
    again = pay.client.post(url, json={"period": "2026-27/H2"}, headers=pay.h("a_secretary"))
    assert again.json() == {"raised": 0}  # once per property and half-year
    mine = pay.client.get("/api/v1/demands", headers=pay.h("citizen1")).json()
    (demand,) = [d for d in mine if d["kind"] == "property_tax"]
    tax = 120 * 2000 // 2  # 120 m2 at Rs 20 a year, one half
    assert demand["period"] == "2026-27/H2" and demand["due_date"] == "2027-03-31" and demand["rebate_until"] is None
    assert [(ln["code"], ln["head"], ln["account"], ln["amount"]) for ln in demand["lines"]] == [
        ("property-tax", "tax", "110-01", tax),
        ("library-cess", "cess", "350-20", tax * 5 // 100),
    ]
    receipt = pay.counter(demand["number"], demand["amount_due_today"])
    assert receipt["amount"] == demand["amount_due_today"]
    assert pay.client.get("/api/v1/demands", headers=pay.h("citizen2")).json() == []


def test_rebate_and_penalty_from_the_day_of_payment(pay: Pay) -> None:
    register(pay, "kl.tvm-corp")
    with pay.runtime.db.unit_of_work() as s:
        demands.raise_property_demands(s, "kl.tvm-corp", "2026-27/H1")
        demand = s.scalar(select(Demand).where(Demand.local_body_code == "kl.tvm-corp", Demand.period == "2026-27/H1"))
        assert demand is not None and demand.rebate_until == date(2026, 4, 30) and demand.due_date == date(2026, 9, 30)
        tax = 120 * 2000 // 2
        cess = tax * 5 // 100
        early, early_lines = demands.amount_due(s, demand, date(2026, 4, 10))
        assert early == tax + cess - tax * 5 // 100 and early_lines[-1]["head"] == "rebate"
        assert demands.amount_due(s, demand, date(2026, 6, 1))[0] == tax + cess
        late, late_lines = demands.amount_due(s, demand, date(2026, 12, 1))  # 3 months after 30 September
        assert late == tax + cess + tax * 3 // 100 and late_lines[-1]["head"] == "penalty"


def test_karnataka_cesses(pay: Pay) -> None:
    lines = property_tax.half_year_lines(KA_RULES, usage="residential", zone=1, area_sqm=100)
    tax = 100 * 5380 // 2
    assert [(ln["code"], ln["amount"]) for ln in lines] == [
        ("property-tax", tax),
        ("health-cess", tax * 15 // 100),
        ("library-cess", tax * 6 // 100),
        ("beggary-cess", tax * 3 // 100),
    ]


def test_an_unknown_use_is_refused_with_what_is_allowed(pay: Pay) -> None:

    with pytest.raises(Invalid) as caught, pay.runtime.db.unit_of_work() as s:
        demands.register_property(s, local_body_code=pay.body, assessment_number="1", usage="palace", zone=1, plinth_area_sqm=10)
    assert "residential/1" in caught.value.extra["errors"][0]["msg"]


days = st.dates(min_value=date(2025, 4, 1), max_value=date(2029, 3, 31))


@given(day=days)
def test_every_day_falls_in_one_half_year_that_contains_it(day: date) -> None:
    for rules in (KL_RULES, KA_RULES):
        half = property_tax.half_for(rules, day)
        assert half.starts <= day <= half.due
        assert property_tax.parse_period(rules, half.period) == half
        assert half.financial_year == property_tax.financial_year(day)


@given(area=st.integers(1, 50_000), zone=st.integers(1, 3), usage=st.sampled_from(["residential", "commercial"]), on=days)
def test_rebate_only_early_penalty_only_late_and_capped(area: int, zone: int, usage: str, on: date) -> None:
    rules = KL_RULES
    half = property_tax.half_for(rules, on)
    lines = property_tax.half_year_lines(rules, usage=usage, zone=zone, area_sqm=area)
    base = property_tax.total(lines)
    extra = property_tax.adjustments(rules, lines, due=half.due, rebate_until=half.rebate_until, on=on)
    heads = [a["head"] for a in extra]
    assert ("rebate" in heads) == (
        half.rebate_until is not None and on <= half.rebate_until and lines[0]["amount"] * 5 // 100 > 0
    )
    assert "penalty" not in heads  # within its own half-year the tax is never late
    later = half.due + timedelta(days=400)
    late = property_tax.adjustments(rules, lines, due=half.due, rebate_until=half.rebate_until, on=later)
    much_later = property_tax.adjustments(
        rules, lines, due=half.due, rebate_until=half.rebate_until, on=later + timedelta(days=2000)
    )
    assert property_tax.total(lines + late) >= base
    cap = lines[0]["amount"] * rules["penalty_bp_per_month"] * rules["penalty_max_months"] // 10_000
    assert sum(a["amount"] for a in much_later) == cap  # the penalty stops growing at its cap
    assert all(isinstance(a["amount"], int) for a in extra + late)


def test_utc_midnight_is_counted_on_the_local_day(pay: Pay) -> None:
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        assert local_day(s, "kl", datetime(2026, 3, 31, 19, 0, tzinfo=UTC)) == date(2026, 4, 1)  # 00:30 IST


def test_the_demo_register_raises_this_half_years_demands_once(pay: Pay) -> None:

    with pay.runtime.db.unit_of_work() as s:
        assert load_demo_properties(s, "9000000001") == 8
    with pay.runtime.db.unit_of_work() as s:
        assert load_demo_properties(s, "9000000001") == 0
        demands = list(s.scalars(select(Demand).where(Demand.kind == "property_tax", Demand.local_body_code == "kl.tvm-corp")))
    assert len(demands) == 3 and sum(d.payer_id is not None for d in demands) == 1


def test_a_rejected_applications_unpaid_demand_is_cancelled_and_a_late_payment_refunded(pay: Pay) -> None:
    app = pay.apply()
    demand = pay.demand_of(app["number"])["number"]
    payment = pay.start(demand)
    clerk = pay.application(app["number"], "a_section_clerk")
    rejected = pay.client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "reject", "version": clerk["version"], "comment": "not eligible"},
        headers=pay.h("a_section_clerk"),
    )
    assert rejected.status_code == 200, rejected.text
    assert pay.demand(demand)["status"] == "cancelled"
    assert pay.counter(demand, FEE, status=409)["status"] == 409
    pay.pay_at_gateway(payment)  # the citizen had the gateway's page open and paid anyway
    pay.deliver_callbacks()
    after = pay.payment(payment["id"])
    assert after["outcome"] == "excess" and after["refunded_amount"] == FEE
    assert pay.demand(demand)["status"] == "cancelled"


def test_a_page_of_demands_costs_the_same_statements_for_two_items_or_many(pay: Pay) -> None:
    """The list reads its demands' lines, applications and properties once for the page (issue 21)."""
    from tests.test_query_counts import counting  # noqa: PLC0415 - the budgets' statement counter

    raise_url = f"/api/v1/local-bodies/{pay.body}/property-tax/demands"

    def listed() -> tuple[int, list[dict[str, Any]]]:
        with counting(pay.runtime) as statements:
            response = pay.client.get("/api/v1/demands", params={"limit": 50}, headers=pay.h("citizen1"))
        assert response.status_code == 200, response.text
        return len(statements), response.json()

    pay.apply()
    register(pay, pay.body)
    assert pay.client.post(raise_url, json={"period": "2026-27/H1"}, headers=pay.h("a_secretary")).json() == {"raised": 1}
    listed()  # the state's places and time zone are cached from here on
    few, shown = listed()
    assert sorted(d["kind"] for d in shown) == ["application", "property_tax"]
    for _ in range(3):
        pay.apply()
    for number in ("12/346", "12/347"):
        register(pay, pay.body, number=number)
    assert pay.client.post(raise_url, json={"period": "2026-27/H2"}, headers=pay.h("a_secretary")).json() == {"raised": 3}
    many, shown = listed()
    assert len(shown) == 2 + 3 + 3
    assert many == few, "a statement per demand crept in"
    for item in shown:  # the page shows each demand as it is shown alone
        alone = pay.demand(item["number"])
        assert {k: v for k, v in item.items() if "due_today" not in k} == {
            k: v for k, v in alone.items() if "due_today" not in k
        }
        assert item["application"] or item["property"] in ("12/345", "12/346", "12/347")
        assert item["lines"]

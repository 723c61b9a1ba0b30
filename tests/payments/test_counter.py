"""The counter: cash, cheque and DD against a demand, the fee guard, the day's report and close."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from nagara.identity.models import User
from nagara.payments.models import Receipt
from tests.conftest import make_officer
from tests.payments.conftest import FEE, Pay


def submitted(pay: Pay, **form: Any) -> tuple[dict[str, Any], str]:
    app = pay.apply(**form)
    return app, pay.demand_of(app["number"])["number"]


def test_the_counter_path_records_money_with_a_receipt_before_the_fee_guard_passes(pay: Pay) -> None:
    app, demand = submitted(pay)
    # no workflow action records a fee: the counter payment is the only way, and it records the step
    for who in ("a_counter_clerk", "a_section_clerk"):
        offered = {a["code"] for a in pay.application(app["number"], who)["actions"]}
        assert "collect_fee" not in offered, who
    refused = pay.client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "collect_fee", "version": app["version"], "comment": "paid"},
        headers=pay.h("a_counter_clerk"),
    )
    assert refused.status_code in (409, 422) and "collect_fee" in refused.text
    # an approval is refused while unpaid
    clerk_view = pay.application(app["number"], "a_section_clerk")
    forwarded = pay.client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "forward", "version": clerk_view["version"]},
        headers=pay.h("a_section_clerk"),
    ).json()
    early = pay.client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "approve", "version": forwarded["version"]},
        headers=pay.h("a_secretary"),
    )
    assert early.status_code == 409 and "not paid" in early.json()["detail"]

    receipt = pay.counter(demand, FEE)
    assert receipt["kind"] == "payment" and receipt["amount"] == FEE and receipt["method"] == "cash"
    assert receipt["number"].startswith(f"KL-{pay.body.split('.')[1].replace('-', '').upper()[:10]}-R-")
    paid = pay.application(app["number"], "a_secretary")
    assert paid["fee_paid"] is True
    assert "collect_fee" not in {a["code"] for a in pay.application(app["number"], "a_section_clerk")["actions"]}
    step = paid["history"][-1]
    assert step["action"] == "fee_paid" and step["actor_role"] == "counter_clerk" and receipt["number"] in step["comment"]
    approved = pay.client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "approve", "version": paid["version"]},
        headers=pay.h("a_secretary"),
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    # paying again is refused
    again = pay.client.post(
        f"/api/v1/demands/{demand}/counter-payments", json={"method": "cash", "amount": FEE}, headers=pay.h("a_counter_clerk")
    )
    assert again.status_code == 409


def test_counter_refuses_bad_input_and_other_people(pay: Pay) -> None:
    _, demand = submitted(pay)
    wrong = pay.counter(demand, FEE - 1, status=422)
    assert wrong["errors"][0]["loc"] == ["body", "amount"] and str(FEE) in wrong["errors"][0]["msg"]
    cheque = pay.counter(demand, FEE, method="cheque", status=422)
    assert cheque["errors"][0]["loc"] == ["body", "instrument"]
    assert pay.counter(demand, FEE, method="bitcoin", status=422)["errors"][0]["loc"] == ["body", "method"]
    assert pay.counter(demand, FEE, who="citizen1", status=403)["status"] == 403
    assert pay.counter(demand, FEE, who="b_counter_clerk", status=404)["status"] == 404
    assert pay.counter(demand, FEE, who="a_section_clerk", status=403)["status"] == 403  # may read, not collect
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Receipt)) == 0
    dd = pay.counter(
        demand, FEE, method="dd", instrument={"number": "004512", "bank": "State Bank of India", "date": "2026-11-30"}
    )
    assert dd["method"] == "dd"


def test_the_same_idempotency_key_gives_the_same_receipt(pay: Pay) -> None:
    _, demand = submitted(pay)
    url = f"/api/v1/demands/{demand}/counter-payments"
    headers = pay.h("a_counter_clerk", **{"Idempotency-Key": "till-1-0001"})
    first = pay.client.post(url, json={"method": "cash", "amount": FEE}, headers=headers)
    second = pay.client.post(url, json={"method": "cash", "amount": FEE}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] == second.json()["number"]


def test_day_report_per_clerk_and_head_equals_the_receipts_and_closing_stops_collection(pay: Pay) -> None:

    with pay.runtime.db.unit_of_work() as s:
        make_officer(s, "a.counter_clerk2", "counter_clerk", "kl", pay.body)
    pay.people.users["a_counter_clerk2"] = None  # type: ignore[assignment]
    with pay.runtime.db.unit_of_work() as s:
        pay.people.users["a_counter_clerk2"] = s.scalar(select(User).where(User.username == "a.counter_clerk2"))  # type: ignore[assignment]
    amounts: dict[str, int] = {"a_counter_clerk": 0, "a_counter_clerk2": 0}
    for i, copies in enumerate([1, 2, 3, 4]):
        _, demand = submitted(pay, copies=copies)
        clerk = "a_counter_clerk" if i % 2 == 0 else "a_counter_clerk2"
        receipt = pay.counter(demand, 25000 + 1000 * copies, who=clerk)
        amounts[clerk] += receipt["amount"]
    report = pay.client.get(f"/api/v1/local-bodies/{pay.body}/counter/day-report", headers=pay.h("a_secretary")).json()
    by_clerk = {c["username"]: c for c in report["clerks"]}
    assert by_clerk["a.counter_clerk"]["total"] == amounts["a_counter_clerk"]
    assert by_clerk["a.counter_clerk2"]["total"] == amounts["a_counter_clerk2"]
    assert report["by_head"] == {"fee": sum(amounts.values())}
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        receipts_sum = s.scalar(
            select(func.sum(Receipt.amount)).where(Receipt.local_body_code == pay.body, Receipt.kind == "payment")
        )
    assert report["total"] == report["receipts_total"] == receipts_sum
    # a clerk sees only their own counter
    own = pay.client.get(f"/api/v1/local-bodies/{pay.body}/counter/day-report", headers=pay.h("a_counter_clerk")).json()
    assert [c["username"] for c in own["clerks"]] == ["a.counter_clerk"]
    # the other body's secretary sees nothing of this body
    assert pay.client.get(f"/api/v1/local-bodies/{pay.body}/counter/day-report", headers=pay.h("b_secretary")).status_code == 403
    closed = pay.client.post(f"/api/v1/local-bodies/{pay.body}/counter/day-close", json={}, headers=pay.h("a_counter_clerk"))
    assert closed.status_code == 201 and closed.json()["total"] == amounts["a_counter_clerk"] and closed.json()["count"] == 2
    twice = pay.client.post(f"/api/v1/local-bodies/{pay.body}/counter/day-close", json={}, headers=pay.h("a_counter_clerk"))
    assert twice.status_code == 409
    _, demand = submitted(pay)
    assert "closed your counter" in pay.counter(demand, FEE, status=409)["detail"]
    assert pay.counter(demand, FEE, who="a_counter_clerk2")["amount"] == FEE  # the other clerk's counter is open


def test_trial_balance_of_the_day(pay: Pay) -> None:
    _, demand = submitted(pay)
    pay.counter(demand, FEE)
    tb = pay.client.get(f"/api/v1/local-bodies/{pay.body}/accounts/trial-balance", headers=pay.h("a_secretary"))
    assert tb.status_code == 200, tb.text
    body = tb.json()
    assert body["balanced"] is True and body["debit_total"] == body["credit_total"] == FEE
    # the certificate fee is booked to the head its item names; the copies, naming none, to other fees
    assert {r["account"]: (r["debit"], r["credit"]) for r in body["rows"]} == {
        "450-10": (FEE, 0),
        "140-10": (0, 25000),
        "140-80": (0, FEE - 25000),
    }
    assert (
        pay.client.get(f"/api/v1/local-bodies/{pay.body}/accounts/trial-balance", headers=pay.h("a_counter_clerk")).status_code
        == 403
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["cash", "cheque", "dd"])), min_size=1, max_size=4))
def test_any_day_of_collections_reports_what_the_receipts_say(pay: Pay, plan: list[tuple[int, str]]) -> None:
    """Whatever the mix of collections, the report per clerk and per head adds up to the receipts issued."""
    before = pay.client.get(f"/api/v1/local-bodies/{pay.body}/counter/day-report", headers=pay.h("a_secretary")).json()
    issued = 0
    for copies, method in plan:
        _, demand = submitted(pay, copies=copies)
        extra = {} if method == "cash" else {"instrument": {"number": "12345", "bank": "Canara Bank"}}
        issued += pay.counter(demand, 25000 + 1000 * copies, method=method, **extra)["amount"]
    report = pay.client.get(f"/api/v1/local-bodies/{pay.body}/counter/day-report", headers=pay.h("a_secretary")).json()
    assert report["total"] - before["total"] == issued
    assert report["receipts_total"] == report["total"] == sum(report["by_head"].values())
    assert sum(sum(c["by_method"].values()) for c in report["clerks"]) == report["total"]

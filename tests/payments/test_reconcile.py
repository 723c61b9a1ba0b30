"""Reconciliation: payments whose callback never came are settled by asking the gateway; mismatches reported."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from nagara.kit.db import utcnow
from nagara.payments import online
from nagara.payments.models import LocalGatewayOrder
from nagara.worker.models import Job
from nagara.worker.registry import SCHEDULES
from tests.payments.conftest import Pay


def drop_callbacks(pay: Pay) -> None:
    """The gateway's callbacks are lost on the way."""
    with pay.runtime.db.unit_of_work() as s:
        for job in s.scalars(select(Job).where(Job.name == "payments.local_gateway_callback")):
            s.delete(job)


def test_a_payment_whose_callback_never_arrives_is_settled_once_by_reconciliation(pay: Pay) -> None:
    app = pay.apply()
    demand = pay.demand_of(app["number"])["number"]
    payment = pay.start(demand)
    pay.pay_at_gateway(payment)
    drop_callbacks(pay)  # and the payer closed the tab: no return either
    with pay.runtime.db.unit_of_work() as s:
        assert online.reconcile(s)["checked"] == 0  # too recent to ask about
    later = utcnow() + timedelta(minutes=5)
    with pay.runtime.db.unit_of_work() as s:
        report = online.reconcile(s, now=later)
    assert report["settled"] == 1 and report["mismatches"] == []
    with pay.runtime.db.unit_of_work() as s:
        assert online.reconcile(s, now=later)["settled"] == 0  # asked again: nothing more
    assert pay.payment(payment["id"])["status"] == "succeeded"
    assert pay.application(app["number"])["fee_paid"] is True
    assert "payments.reconcile" in SCHEDULES


def test_reconciliation_reports_an_amount_mismatch_and_changes_nothing(pay: Pay) -> None:
    app = pay.apply()
    payment = pay.start(pay.demand_of(app["number"])["number"])
    pay.pay_at_gateway(payment)
    drop_callbacks(pay)
    with pay.runtime.db.unit_of_work() as s:
        order = s.get(LocalGatewayOrder, payment["gateway_order_id"])
        assert order is not None
        order.amount -= 100  # the gateway's books say something else
    with pay.runtime.db.unit_of_work() as s:
        report = online.reconcile(s, now=utcnow() + timedelta(minutes=5))
    assert report["settled"] == 0 and len(report["mismatches"]) == 1
    assert payment["id"] == report["mismatches"][0]["payment"]
    assert pay.payment(payment["id"])["status"] == "created"


def test_reconciliation_marks_failures_and_expiry(pay: Pay) -> None:
    app = pay.apply()
    demand = pay.demand_of(app["number"])["number"]
    failed = pay.start(demand)
    pay.pay_at_gateway(failed, outcome="failed")
    drop_callbacks(pay)
    abandoned = pay.start(demand)
    with pay.runtime.db.unit_of_work() as s:
        report = online.reconcile(s, now=utcnow() + timedelta(hours=1))
    assert (report["failed"], report["expired"]) == (1, 1)
    assert pay.payment(failed["id"])["status"] == "failed"
    assert pay.payment(abandoned["id"])["status"] == "expired"
    assert pay.demand(demand)["status"] == "due"

"""Whatever order the gateway's messages come in, a demand is paid once and no success is lost.

Hypothesis draws a sequence of events over up to three online payments of one demand and a
counter payment: the payer paying or giving up on the gateway's page, callbacks (delivered,
repeated), browser returns, reconciliation runs (also after the payments expired), and the
clerk taking cash. After every sequence:

- the demand is paid at most once, and paid if any money arrived;
- every payment the gateway took money for is settled (none lost), exactly one is applied, and
  every other success is refunded in full;
- receipts: one per settled payment and one per refund; the journal balances (conftest).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from nagara.kit.db import utcnow
from nagara.payments import online
from nagara.payments.gateways import local_gateway
from nagara.payments.models import Demand, LocalGatewayOrder, Payment, Receipt, Refund
from tests.payments.conftest import FEE, Pay

PAYMENTS = 3
event = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, PAYMENTS - 1), st.sampled_from(["paid", "failed"])),
    st.tuples(st.just("callback"), st.integers(0, PAYMENTS - 1), st.integers(1, 3)),
    st.tuples(st.just("return"), st.integers(0, PAYMENTS - 1), st.just(0)),
    st.tuples(st.just("reconcile"), st.just(0), st.sampled_from([5, 120])),  # minutes later
    st.tuples(st.just("counter"), st.just(0), st.just(0)),
)


def run(pay: Pay, demand: str, payments: list[dict[str, Any]], step: tuple[str, int, int | str]) -> None:
    kind, i, arg = step
    payment = payments[i]
    if kind == "pay":
        with pay.runtime.db.unit_of_work() as s:
            local_gateway(pay.runtime).complete(s, payment["gateway_order_id"], outcome=str(arg))
    elif kind == "callback":
        with pay.runtime.db.unit_of_work(readonly=True) as s:
            order = s.get(LocalGatewayOrder, payment["gateway_order_id"])
            assert order is not None
            body = local_gateway(pay.runtime).callback_body(order)
        if order.status != "created":  # the gateway only calls back once something happened
            for _ in range(int(arg)):
                assert pay.callback(body).status_code == 200
    elif kind == "return":
        with pay.runtime.db.unit_of_work(readonly=True) as s:
            order = s.get(LocalGatewayOrder, payment["gateway_order_id"])
            assert order is not None
            back = local_gateway(pay.runtime).return_url_for(order)
        pay.browser_return(back)
    elif kind == "reconcile":
        with pay.runtime.db.unit_of_work() as s:
            online.reconcile(s, now=utcnow() + timedelta(minutes=int(arg)))
    elif kind == "counter":
        due = pay.demand(demand)
        if due["status"] == "due":
            pay.counter(demand, due["amount_due_today"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(event, min_size=1, max_size=10))
def test_a_demand_is_paid_once_whatever_the_order_of_events(pay: Pay, steps: list[tuple[str, int, int | str]]) -> None:
    app = pay.apply()
    demand = pay.demand_of(app["number"])["number"]
    payments = [pay.start(demand) for _ in range(PAYMENTS)]
    for step in steps:
        run(pay, demand, payments, step)
    # at the end, reconciliation runs as the schedule would, so what the gateway took is known
    with pay.runtime.db.unit_of_work() as s:
        online.reconcile(s, now=utcnow() + timedelta(minutes=5))

    with pay.runtime.db.unit_of_work(readonly=True) as s:
        d = s.scalar(select(Demand).where(Demand.number == demand))
        assert d is not None
        rows = list(s.scalars(select(Payment).where(Payment.demand_id == d.id)))
        orders = {
            o.id: o
            for o in s.scalars(
                select(LocalGatewayOrder).where(
                    LocalGatewayOrder.id.in_([p.gateway_order_id for p in rows if p.gateway_order_id])
                )
            )
        }
        taken = [p for p in rows if p.channel == "counter" or orders[p.gateway_order_id or ""].status == "paid"]
        succeeded = [p for p in rows if p.status == "succeeded"]
        assert {p.id for p in succeeded} == {p.id for p in taken}, "a success the gateway reported was lost"
        applied = [p for p in succeeded if p.outcome == "applied"]
        excess = [p for p in succeeded if p.outcome == "excess"]
        assert len(applied) == (1 if taken else 0)
        assert d.status == ("paid" if taken else "due") and d.paid_amount == (FEE if taken else 0)
        for p in excess:
            assert p.refunded_amount == p.amount
            assert orders[p.gateway_order_id or ""].refunded == p.amount  # returned through the gateway
        receipts = s.scalar(select(func.count()).select_from(Receipt).where(Receipt.demand_id == d.id))
        refunds = s.scalar(select(func.count()).select_from(Refund).where(Refund.payment_id.in_([p.id for p in rows])))
        assert receipts == len(succeeded) + refunds
        assert refunds == len(excess)

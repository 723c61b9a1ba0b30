"""Online payment through the local gateway, and each awkward case a real gateway produces."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from nagara.kit.db import utcnow
from nagara.ledger.models import PendingEntry
from nagara.payments import online
from nagara.payments.gateways import local_gateway
from nagara.payments.models import GatewayEvent, LocalGatewayOrder, Payment, Receipt
from tests.payments.conftest import FEE, Pay


def counts(pay: Pay) -> dict[str, int]:
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        return {
            "receipts": s.scalar(select(func.count()).select_from(Receipt)) or 0,
            "succeeded": s.scalar(select(func.count()).select_from(Payment).where(Payment.status == "succeeded")) or 0,
            "ledger_payments": s.scalar(select(func.count()).select_from(PendingEntry).where(PendingEntry.type.like("payment.%")))
            or 0,
        }


def events(pay: Pay, **where: Any) -> list[GatewayEvent]:
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        query = select(GatewayEvent).order_by(GatewayEvent.received_at)
        for key, value in where.items():
            query = query.where(getattr(GatewayEvent, key) == value)
        return list(s.scalars(query))


def started(pay: Pay) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    app = pay.apply()
    demand = pay.demand_of(app["number"])
    return app, demand, pay.start(demand["number"])


def callback_body(pay: Pay, payment: dict[str, Any]) -> bytes:
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        order = s.get(LocalGatewayOrder, payment["gateway_order_id"])
        assert order is not None
        return local_gateway(pay.runtime).callback_body(order)


def test_submission_raises_a_demand_from_the_fee_lines(pay: Pay) -> None:
    app = pay.apply(copies=3)
    assert app["fee_total"] == 25000 + 3000 and app["fee_paid"] is False
    demand = pay.demand_of(app["number"])
    assert demand["status"] == "due" and demand["application"] == app["number"]
    assert [(ln["code"], ln["head"], ln["amount"]) for ln in demand["lines"]] == [("fee", "fee", 25000), ("copies", "fee", 3000)]
    assert demand["amount_due_today"] == 28000 and demand["pay_page"] == f"/applications/{app['number']}/pay"
    # another citizen does not see it; an officer of another body does not either
    assert pay.client.get(f"/api/v1/demands/{demand['number']}", headers=pay.h("citizen2")).status_code == 404
    assert pay.client.get(f"/api/v1/demands/{demand['number']}", headers=pay.h("b_secretary")).status_code == 404


def test_pay_online_callback_before_return(pay: Pay) -> None:
    app, demand, payment = started(pay)
    assert payment["status"] == "created" and payment["amount"] == FEE
    assert payment["redirect_url"].endswith("/gateway/local/pay/" + payment["gateway_order_id"])
    back = pay.pay_at_gateway(payment)
    assert pay.deliver_callbacks() >= 1  # the callback arrives first
    after = pay.payment(payment["id"])
    assert after["status"] == "succeeded" and after["outcome"] == "applied" and len(after["receipts"]) == 1
    target = pay.browser_return(back)  # then the browser comes back
    assert target == f"/applications/{app['number']}/pay?payment={payment['id']}"
    assert pay.payment(payment["id"])["receipts"] == after["receipts"]
    assert [e.outcome for e in events(pay, payment_id=payment["id"])] == ["settled", "duplicate"]
    application = pay.application(app["number"])
    assert application["fee_paid"] is True
    paid_step = application["history"][-1]
    assert paid_step["action"] == "fee_paid" and after["receipts"][0] in paid_step["comment"]
    assert pay.demand(demand["number"])["status"] == "paid"
    assert counts(pay) == {"receipts": 1, "succeeded": 1, "ledger_payments": 1}


def test_pay_online_return_before_callback(pay: Pay) -> None:
    _, demand, payment = started(pay)
    back = pay.pay_at_gateway(payment)
    pay.browser_return(back)  # the return settles by asking the gateway
    assert pay.payment(payment["id"])["status"] == "succeeded"
    pay.deliver_callbacks()  # the callback comes later: a duplicate, changing nothing
    assert [e.outcome for e in events(pay, payment_id=payment["id"])] == ["settled", "duplicate"]
    assert counts(pay)["receipts"] == 1
    assert pay.demand(demand["number"])["status"] == "paid"


def test_duplicate_callbacks_settle_once(pay: Pay) -> None:
    _, _, payment = started(pay)
    pay.pay_at_gateway(payment)
    body = callback_body(pay, payment)
    answers = [pay.callback(body) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.json()["outcome"] for a in answers] == ["settled", "duplicate", "duplicate", "duplicate"]
    assert counts(pay) == {"receipts": 1, "succeeded": 1, "ledger_payments": 1}


def test_failed_payment_leaves_the_demand_due_and_a_new_attempt_pays(pay: Pay) -> None:
    _, demand, payment = started(pay)
    pay.pay_at_gateway(payment, outcome="failed")
    pay.deliver_callbacks()
    assert pay.payment(payment["id"])["status"] == "failed"
    assert pay.demand(demand["number"])["status"] == "due"
    assert counts(pay)["receipts"] == 0
    again = pay.start(demand["number"])
    pay.pay_at_gateway(again)
    pay.deliver_callbacks()
    assert pay.payment(again["id"])["status"] == "succeeded"
    assert pay.demand(demand["number"])["status"] == "paid"


def test_late_success_after_the_payment_expired_is_not_lost(pay: Pay) -> None:
    _, demand, payment = started(pay)
    with pay.runtime.db.unit_of_work() as s:
        report = online.reconcile(s, now=utcnow() + timedelta(hours=1))
    assert report["expired"] == 1
    assert pay.payment(payment["id"])["status"] == "expired"
    pay.pay_at_gateway(payment)  # the payer finishes long after; the gateway takes the money
    pay.deliver_callbacks()
    after = pay.payment(payment["id"])
    assert after["status"] == "succeeded" and after["outcome"] == "applied"
    assert pay.demand(demand["number"])["status"] == "paid"
    assert events(pay, payment_id=payment["id"])[-1].reason == "after the payment had expired"


def test_two_successes_for_one_demand_pay_it_once_and_refund_the_second(pay: Pay) -> None:
    _, demand, first = started(pay)
    second = pay.start(demand["number"])  # a second tab
    assert second["id"] != first["id"]
    pay.pay_at_gateway(first)
    pay.pay_at_gateway(second)
    pay.deliver_callbacks()
    one, two = pay.payment(first["id"]), pay.payment(second["id"])
    assert {one["outcome"], two["outcome"]} == {"applied", "excess"}
    excess = one if one["outcome"] == "excess" else two
    assert excess["refunded_amount"] == FEE and len(excess["receipts"]) == 2  # the receipt, and the refund voucher
    d = pay.demand(demand["number"])
    assert d["status"] == "paid" and d["paid_amount"] == FEE
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        order = s.get(LocalGatewayOrder, excess["gateway_order_id"])
        assert order is not None and order.refunded == FEE  # the money went back through the gateway
    # a new payment of a paid demand is refused
    refused = pay.client.post(f"/api/v1/demands/{demand['number']}/payments", json={}, headers=pay.h("citizen1"))
    assert refused.status_code == 409 and refused.json()["status"] == 409


def test_partial_refund(pay: Pay) -> None:
    _, demand, payment = started(pay)
    pay.pay_at_gateway(payment)
    pay.deliver_callbacks()
    url = f"/api/v1/payments/{payment['id']}/refunds"
    assert pay.client.post(
        url, json={"amount": 1000, "reason": "extra copy not issued"}, headers=pay.h("citizen1")
    ).status_code in (403, 404)
    too_much = pay.client.post(url, json={"amount": FEE + 1, "reason": "too much"}, headers=pay.h("a_secretary"))
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["loc"] == ["body", "amount"]
    made = pay.client.post(url, json={"amount": 1000, "reason": "extra copy not issued"}, headers=pay.h("a_secretary"))
    assert made.status_code == 201, made.text
    assert made.json()["gateway_refund_id"].startswith("lgr_")
    after = pay.payment(payment["id"])
    assert after["refunded_amount"] == 1000 and len(after["receipts"]) == 2
    d = pay.demand(demand["number"])
    assert d["status"] == "paid" and d["paid_amount"] == FEE - 1000
    rest = pay.client.post(url, json={"amount": FEE - 1000, "reason": "application withdrawn"}, headers=pay.h("a_secretary"))
    assert rest.status_code == 201
    assert pay.demand(demand["number"])["status"] == "refunded"
    assert pay.client.post(url, json={"amount": 1, "reason": "again"}, headers=pay.h("a_secretary")).status_code == 422
    assert counts(pay)["ledger_payments"] == 3


def test_idempotency_key_gives_the_same_payment(pay: Pay) -> None:
    app = pay.apply()
    demand = pay.demand_of(app["number"])["number"]
    first = pay.start(demand, key="k-123")
    again = pay.start(demand, key="k-123", status=200)
    assert again["id"] == first["id"] and again["gateway_order_id"] == first["gateway_order_id"]
    different = pay.client.post(
        f"/api/v1/demands/{demand}/payments", json={"method": "upi"}, headers=pay.h("citizen1", **{"Idempotency-Key": "k-123"})
    )
    assert different.status_code == 409
    other = pay.start(demand, key="k-456")
    assert other["id"] != first["id"]


def test_upi_link_and_qr_for_the_amount_due(pay: Pay) -> None:
    plain = pay.apply(body=pay.people.body_b)
    assert pay.start(pay.demand_of(plain["number"])["number"])["upi_link"] is None  # no UPI address in the pack
    app = pay.apply(body="kl.tvm-corp")
    payment = pay.start(pay.demand_of(app["number"])["number"])
    link = payment["upi_link"]
    assert link.startswith("upi://pay?pa=tvmcorp.collect%40examplebank&pn=Thiruvananthapuram%20Corporation&")
    assert f"am={FEE / 100:.2f}" in link and "cu=INR" in link and f"tr={payment['gateway_order_id']}" in link
    qr = pay.client.get(payment["upi_qr"], headers=pay.h("citizen1"))
    assert (
        qr.status_code == 200
        and qr.headers["content-type"] == "image/svg+xml"
        and 'xmlns="http://www.w3.org/2000/svg"' in qr.text
    )
    assert pay.client.get(payment["upi_qr"], headers=pay.h("citizen2")).status_code == 404


def test_tampered_amount_bad_signature_and_replay_are_rejected_recorded_and_change_nothing(pay: Pay) -> None:
    _, demand, payment = started(pay)
    pay.pay_at_gateway(payment)
    genuine = callback_body(pay, payment)
    tampered = json.loads(genuine)
    tampered["amount"] = 100
    signed_genuine = local_gateway(pay.runtime).sign(genuine)
    tries = {
        # the body changed after signing: the signature no longer matches
        "tampered": pay.callback(json.dumps(tampered, sort_keys=True).encode(), signature=signed_genuine),
        "bad signature": pay.callback(genuine, signature=f"t={int(time.time())},v1={'0' * 64}"),
        "no signature": pay.callback(genuine, signature=""),
        # a genuine callback captured and sent again an hour later
        "replayed": pay.callback(genuine, at=int(time.time()) - 3600),
        # signed by the gateway, but for another amount than the payment's (a gateway bug, or a key leak)
        "wrong amount": pay.callback(json.dumps(tampered, sort_keys=True).encode()),
    }
    for name, answer in tries.items():
        assert answer.status_code == 400, (name, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert pay.payment(payment["id"])["status"] == "created"
    assert pay.demand(demand["number"])["status"] == "due"
    assert counts(pay) == {"receipts": 0, "succeeded": 0, "ledger_payments": 0}
    recorded = events(pay, gateway="local", kind="callback")
    assert [e.outcome for e in recorded] == ["rejected", "rejected", "rejected", "rejected", "mismatch"]
    assert "signature" in (recorded[0].reason or "") and "replay" in (recorded[3].reason or "")
    # the genuine callback still settles it
    assert pay.callback(genuine).json()["outcome"] == "settled"


def test_a_forged_browser_return_changes_nothing(pay: Pay) -> None:
    _, _, payment = started(pay)
    response = pay.client.get(
        "/api/v1/payments/return/local",
        params={"order_id": payment["gateway_order_id"], "status": "paid", "signature": "f" * 64},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert pay.payment(payment["id"])["status"] == "created"
    assert [e.outcome for e in events(pay, kind="return")] == ["rejected"]

"""A refund's reason loses bidirectional controls when it comes in (issue 12, finding 10)."""

from __future__ import annotations

from nagara.kit.text import BIDI_CONTROLS
from tests.payments.conftest import Pay
from tests.payments.test_online import started


def test_a_refund_reason_is_kept_without_bidi_controls(pay: Pay) -> None:
    _, _demand, payment = started(pay)
    pay.pay_at_gateway(payment)
    pay.deliver_callbacks()
    url = f"/api/v1/payments/{payment['id']}/refunds"
    made = pay.client.post(url, json={"amount": 1000, "reason": "copy \u202eton\u202c issued"}, headers=pay.h("a_secretary"))
    assert made.status_code == 201, made.text
    assert made.json()["reason"] == "copy ton issued"
    receipts = pay.payment(payment["id"])["receipts"]
    assert not BIDI_CONTROLS.search(str(receipts))

"""The Razorpay-shaped adapter against a fake Razorpay on the loopback interface (never the internet)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request

from nagara.kit.db import utcnow
from nagara.payments import online
from nagara.payments.gateways import RazorpayGateway, gateways_of
from tests.ledger.child import free_port
from tests.payments.conftest import FEE, Pay

KEY_ID, KEY_SECRET, WEBHOOK_SECRET = "rzp_test_nagara", "key-secret-123", "webhook-secret-456"


@dataclass
class FakeRazorpay:
    """Orders, payments and refunds as Razorpay's API returns them, kept in memory."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    seen_auth: set[str] = field(default_factory=set)

    def app(self) -> FastAPI:
        api = FastAPI()

        def check(request: Request) -> None:

            expected = "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
            if request.headers.get("authorization") != expected:
                raise HTTPException(401, "bad key")
            self.seen_auth.add(expected)

        @api.post("/v1/orders")
        async def create(request: Request) -> dict[str, Any]:
            check(request)
            body = await request.json()
            order = {
                "id": "order_" + secrets.token_hex(7),
                "amount": body["amount"],
                "currency": body["currency"],
                "receipt": body["receipt"],
                "status": "created",
            }
            self.orders[order["id"]] = order
            return order

        @api.get("/v1/orders/{order_id}/payments")
        def order_payments(order_id: str, request: Request) -> dict[str, Any]:
            check(request)
            items = [p for p in self.payments.values() if p["order_id"] == order_id]
            return {"entity": "collection", "count": len(items), "items": items}

        @api.post("/v1/payments/{payment_id}/refund")
        async def refund(payment_id: str, request: Request) -> dict[str, Any]:
            check(request)
            body = await request.json()
            made = {
                "id": "rfnd_" + secrets.token_hex(7),
                "payment_id": payment_id,
                "amount": body["amount"],
                "key": request.headers.get("idempotency-key"),
            }
            self.refunds.append(made)
            return made

        return api

    def capture(self, order_id: str, amount: int | None = None) -> dict[str, Any]:
        order = self.orders[order_id]
        pay = {
            "id": "pay_" + secrets.token_hex(7),
            "order_id": order_id,
            "amount": amount or order["amount"],
            "status": "captured",
        }
        self.payments[pay["id"]] = pay
        return pay


@pytest.fixture
def razorpay(pay: Pay) -> Iterator[FakeRazorpay]:
    fake = FakeRazorpay()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake Razorpay did not start"
        time.sleep(0.02)
    gateway = RazorpayGateway(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, f"http://127.0.0.1:{port}")
    gateways_of(pay.runtime)["razorpay"] = gateway
    pay.runtime.settings.payments_gateway = "razorpay"
    try:
        yield fake
    finally:
        pay.runtime.settings.payments_gateway = "local"
        if gateway.http is not None:
            gateway.http.close()
        server.should_exit = True
        thread.join(timeout=10)


def webhook(entity: dict[str, Any], event: str = "payment.captured", created: int | None = None) -> bytes:
    body = {
        "entity": "event",
        "event": event,
        "created_at": created or int(time.time()),
        "payload": {"payment": {"entity": entity}},
    }
    return json.dumps(body).encode()


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(pay: Pay, body: bytes, signature: str, event_id: str = "evt_1") -> Any:
    return pay.client.post(
        "/api/v1/payments/callback/razorpay",
        content=body,
        headers={"Content-Type": "application/json", "X-Razorpay-Signature": signature, "X-Razorpay-Event-Id": event_id},
    )


def test_razorpay_order_webhook_return_and_refund(pay: Pay, razorpay: FakeRazorpay) -> None:
    app = pay.apply()
    demand = pay.demand_of(app["number"])["number"]
    payment = pay.start(demand)
    order_id = payment["gateway_order_id"]
    assert payment["gateway"] == "razorpay" and razorpay.orders[order_id]["amount"] == FEE
    assert razorpay.orders[order_id]["receipt"] == payment["id"][:40]
    assert payment["redirect_url"].startswith("http://127.0.0.1:") and f"order_id={order_id}" in payment["redirect_url"]
    captured = razorpay.capture(order_id)

    body = webhook(captured)
    assert post_webhook(pay, body, sign(body, "wrong-secret")).status_code == 400
    old = webhook(captured, created=int(time.time()) - 3600)
    assert post_webhook(pay, old, sign(old)).status_code == 400  # a replay of an old event
    assert pay.payment(payment["id"])["status"] == "created"
    settled = post_webhook(pay, body, sign(body))
    assert settled.status_code == 200 and settled.json()["outcome"] == "settled"
    assert post_webhook(pay, body, sign(body)).json()["outcome"] == "duplicate"

    # the browser's return, signed with the key secret over order_id|payment_id
    params = {"razorpay_order_id": order_id, "razorpay_payment_id": captured["id"]}
    params["razorpay_signature"] = sign(f"{order_id}|{captured['id']}".encode(), KEY_SECRET)
    back = pay.client.get("/api/v1/payments/return/razorpay", params=params, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"].endswith(f"?payment={payment['id']}")
    after = pay.payment(payment["id"])
    assert after["status"] == "succeeded" and after["gateway_order_id"] == order_id and len(after["receipts"]) == 1

    refund = pay.client.post(
        f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 500, "reason": "overcharged"}, headers=pay.h("a_secretary")
    )
    assert refund.status_code == 201, refund.text
    assert razorpay.refunds == [
        {"id": refund.json()["gateway_refund_id"], "payment_id": captured["id"], "amount": 500, "key": refund.json()["id"]}
    ]


def test_razorpay_reconciliation_asks_for_the_orders_payments(pay: Pay, razorpay: FakeRazorpay) -> None:
    app = pay.apply()
    payment = pay.start(pay.demand_of(app["number"])["number"])
    razorpay.capture(payment["gateway_order_id"])  # paid, but the webhook never comes
    with pay.runtime.db.unit_of_work() as s:
        report = online.reconcile(s, now=utcnow() + timedelta(minutes=5))
    assert report["settled"] == 1
    assert pay.payment(payment["id"])["status"] == "succeeded"
    assert razorpay.seen_auth  # every call carried the key id and secret

"""Payment gateways: one interface, a local gateway for development and tests, and a provider adapter.

The interface is what every Indian aggregator offers in some form: create an order for an
amount, send the payer to a hosted page, get the payer back on a *return* URL, receive a
*server-to-server callback* signed with HMAC, ask for an order's status, refund.

- :class:`LocalGateway` behaves like a provider: its own books (``payments_local_gateway_orders``),
  a hosted payment page (``/gateway/local/pay/{order}``, see ``gateway_views.py``), a signed
  browser return, and callbacks delivered by a background job (:func:`deliver_local_callback`,
  here) that retries until answered 2xx, as providers do. It is refused in production.
- :class:`RazorpayGateway` is the shape of a real adapter (Razorpay's orders, payments, refunds
  and webhook signatures); a state configures it with its credentials in settings. Tests run it
  against a fake server on the loopback interface, never the internet.

A callback's signature covers its body and a timestamp; one older than the tolerance is a
replay and is refused, whatever its signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from sqlalchemy.orm import Session

from nagara.kit.crypto import derive_key
from nagara.kit.db import after_commit, utcnow
from nagara.kit.errors import NotFound
from nagara.kit.settings import Settings
from nagara.payments.models import LocalGatewayOrder
from nagara.runtime import Runtime, runtime_of
from nagara.worker.registry import enqueue, task
from nagara.worker.runner import backoff_seconds

log = logging.getLogger("nagara.payments")
CALLBACK = "payments.local_gateway_callback"
CALLBACK_ATTEMPTS = 12  # about an hour of retries with the worker's backoff, then reconciliation alone


@dataclass(frozen=True)
class Order:
    order_id: str
    redirect_url: str


@dataclass(frozen=True)
class GatewayStatus:
    order_id: str
    status: str  # created | paid | failed
    amount: int
    payment_ref: str | None = None


@dataclass(frozen=True)
class CallbackEvent:
    event_id: str
    order_id: str
    status: str  # paid | failed
    amount: int
    payment_ref: str | None


class BadCallback(Exception):
    """A callback or return that cannot be trusted: its reason is recorded with it."""


class Gateway(Protocol):
    name: str

    def create_order(self, session: Session, *, amount: int, reference: str, return_url: str, callback_url: str) -> Order: ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent: ...

    def parse_return(self, params: Mapping[str, str]) -> str:
        """The order id of a browser return whose signature holds."""
        ...

    def fetch(self, session: Session, order_id: str) -> GatewayStatus: ...

    def refund(self, session: Session, *, order_id: str, payment_ref: str | None, amount: int, key: str) -> str: ...


def _hmac(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass
class LocalGateway:
    """A provider that runs inside this node, with books of its own, for development and tests."""

    secret: bytes
    base_url: str
    tolerance_seconds: int = 300
    name: str = "local"
    http: httpx.Client | None = field(default=None, repr=False)  # tests deliver callbacks in-process

    def create_order(self, session: Session, *, amount: int, reference: str, return_url: str, callback_url: str) -> Order:
        order = LocalGatewayOrder(
            id="lgo_" + secrets.token_hex(10),
            amount=amount,
            reference=reference,
            return_url=return_url,
            callback_url=callback_url,
        )
        session.add(order)  # flushed with the payment
        return Order(order.id, f"{self.base_url}/gateway/local/pay/{order.id}")

    # The payer's side: the hosted page shows the order, and the payer pays or gives up.
    def order(self, session: Session, order_id: str) -> LocalGatewayOrder:
        found = session.get(LocalGatewayOrder, order_id)
        if found is None:
            raise BadCallback(f"the local gateway has no order {order_id!r}")
        return found

    def complete(self, session: Session, order_id: str, *, outcome: str, method: str = "card") -> str:
        """Mark the order paid or failed, queue its callback, and give the browser's return URL."""
        order = session.get(LocalGatewayOrder, order_id, with_for_update=True)
        if order is None:
            raise BadCallback(f"no order {order_id!r}")
        if order.status == "created":
            order.status = outcome
            order.method = method
            if outcome == "paid":
                order.payment_ref = "lgp_" + secrets.token_hex(8)
                order.paid_at = utcnow()
            enqueue(session, CALLBACK, {"order_id": order.id}, dedupe_key=f"lgcb:{order.id}:1")
        return self.return_url_for(order)

    def return_url_for(self, order: LocalGatewayOrder) -> str:
        params = {"order_id": order.id, "status": order.status}
        params["signature"] = _hmac(self.secret, f"return:{order.id}|{order.status}".encode())
        sep = "&" if "?" in order.return_url else "?"
        return order.return_url + sep + urlencode(params)

    def callback_body(self, order: LocalGatewayOrder) -> bytes:
        event = {
            "event_id": f"{order.id}:{order.status}",
            "order_id": order.id,
            "status": order.status,
            "amount": order.amount,
            "payment_ref": order.payment_ref,
            "method": order.method,
        }
        return json.dumps(event, sort_keys=True).encode()

    def sign(self, body: bytes, at: int | None = None) -> str:
        at = int(time.time()) if at is None else at
        return f"t={at},v1={_hmac(self.secret, str(at).encode() + b'.' + body)}"

    def post_callback(self, url: str, body: bytes) -> int:
        """POST one callback, signed now; a transport error or an answer that asks for a retry raises."""
        client = self.http or httpx.Client(timeout=10)
        try:
            response = client.post(
                url, content=body, headers={"Content-Type": "application/json", "X-Local-Gateway-Signature": self.sign(body)}
            )
        finally:
            if self.http is None:
                client.close()
        if response.status_code >= 500 or response.status_code in (404, 408, 429):
            raise RuntimeError(f"callback to {url} answered {response.status_code}: {response.text[:200]}")
        return response.status_code

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        header = headers.get("x-local-gateway-signature", "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
            raise BadCallback("missing or malformed X-Local-Gateway-Signature (expected t=<unix time>,v1=<hex HMAC-SHA256>)")
        expected = _hmac(self.secret, parts["t"].encode() + b"." + body)
        if not hmac.compare_digest(expected, parts["v1"]):
            raise BadCallback("signature does not match the body")
        age = abs(time.time() - int(parts["t"]))
        if age > self.tolerance_seconds:
            raise BadCallback(f"signed {int(age)} s ago, beyond the {self.tolerance_seconds} s tolerance: a replay")
        try:
            data = json.loads(body)
            return CallbackEvent(
                str(data["event_id"]), str(data["order_id"]), str(data["status"]), int(data["amount"]), data.get("payment_ref")
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadCallback(f"body is not a callback event: {exc}") from None

    def parse_return(self, params: Mapping[str, str]) -> str:
        order_id, status, signature = params.get("order_id", ""), params.get("status", ""), params.get("signature", "")
        if not hmac.compare_digest(_hmac(self.secret, f"return:{order_id}|{status}".encode()), signature):
            raise BadCallback("return signature does not match")
        return order_id

    def fetch(self, session: Session, order_id: str) -> GatewayStatus:
        order = session.get(LocalGatewayOrder, order_id)
        if order is None:
            raise BadCallback(f"the gateway has no order {order_id!r}")
        return GatewayStatus(order.id, order.status, order.amount, order.payment_ref)

    def refund(self, session: Session, *, order_id: str, payment_ref: str | None, amount: int, key: str) -> str:
        order = session.get(LocalGatewayOrder, order_id, with_for_update=True)
        if order is None or order.status != "paid":
            raise BadCallback(f"order {order_id!r} is not paid; nothing to refund")
        if order.refunded + amount > order.amount:
            raise BadCallback(f"refund of {amount} exceeds what is left ({order.amount - order.refunded})")
        order.refunded += amount
        return f"lgr_{hashlib.sha256(key.encode()).hexdigest()[:16]}"


@dataclass
class RazorpayGateway:
    """Razorpay's API shape: orders, a hosted checkout, webhooks signed with HMAC-SHA256, refunds.

    Webhooks carry ``X-Razorpay-Signature`` (HMAC-SHA256 of the raw body with the webhook
    secret) and ``X-Razorpay-Event-Id``; the browser comes back with ``razorpay_order_id``,
    ``razorpay_payment_id`` and ``razorpay_signature`` (HMAC of ``order_id|payment_id`` with
    the key secret).
    """

    key_id: str
    key_secret: str
    webhook_secret: str
    base_url: str = "https://api.razorpay.com"
    tolerance_seconds: int = 300
    name: str = "razorpay"
    http: httpx.Client | None = field(default=None, repr=False)

    def _client(self) -> httpx.Client:
        if self.http is None:
            self.http = httpx.Client(base_url=self.base_url, auth=(self.key_id, self.key_secret), timeout=15)
        return self.http

    def create_order(self, session: Session, *, amount: int, reference: str, return_url: str, callback_url: str) -> Order:
        response = self._client().post(
            "/v1/orders", json={"amount": amount, "currency": "INR", "receipt": reference[:40], "notes": {"ref": reference}}
        )
        response.raise_for_status()
        order_id = str(response.json()["id"])
        query = urlencode({"key_id": self.key_id, "order_id": order_id, "callback_url": return_url})
        return Order(order_id, f"{self.base_url}/v1/checkout/embedded?{query}")

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        signature = headers.get("x-razorpay-signature", "")
        if not signature or not hmac.compare_digest(_hmac(self.webhook_secret.encode(), body), signature):
            raise BadCallback("X-Razorpay-Signature does not match the body")
        try:
            data = json.loads(body)
            entity = data["payload"]["payment"]["entity"]
            created = int(data["created_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadCallback(f"body is not a Razorpay payment event: {exc}") from None
        if abs(time.time() - created) > self.tolerance_seconds:
            raise BadCallback(f"event created {int(time.time() - created)} s ago, beyond the tolerance: a replay")
        status = {"payment.captured": "paid", "order.paid": "paid", "payment.failed": "failed"}.get(data.get("event", ""))
        if status is None:
            raise BadCallback(f"event {data.get('event')!r} is not one this node subscribes to")
        event_id = headers.get("x-razorpay-event-id") or f"{entity['id']}:{data['event']}"
        return CallbackEvent(event_id, str(entity["order_id"]), status, int(entity["amount"]), str(entity["id"]))

    def parse_return(self, params: Mapping[str, str]) -> str:
        order_id, payment_id = params.get("razorpay_order_id", ""), params.get("razorpay_payment_id", "")
        expected = _hmac(self.key_secret.encode(), f"{order_id}|{payment_id}".encode())
        if not hmac.compare_digest(expected, params.get("razorpay_signature", "")):
            raise BadCallback("razorpay_signature does not match")
        return order_id

    def fetch(self, session: Session, order_id: str) -> GatewayStatus:
        response = self._client().get(f"/v1/orders/{order_id}/payments")
        response.raise_for_status()
        items = response.json().get("items", [])
        captured = [p for p in items if p.get("status") == "captured"]
        if captured:
            return GatewayStatus(order_id, "paid", int(captured[0]["amount"]), str(captured[0]["id"]))
        if items and all(p.get("status") == "failed" for p in items):
            return GatewayStatus(order_id, "failed", int(items[0]["amount"]), None)
        return GatewayStatus(order_id, "created", 0, None)

    def refund(self, session: Session, *, order_id: str, payment_ref: str | None, amount: int, key: str) -> str:
        response = self._client().post(
            f"/v1/payments/{payment_ref}/refund", json={"amount": amount, "receipt": key[:40]}, headers={"Idempotency-Key": key}
        )
        if response.status_code >= 400:
            raise BadCallback(f"the gateway refused the refund: {response.status_code} {response.text[:200]}")
        return str(response.json()["id"])


def local_secret(settings: Settings) -> bytes:
    configured = settings.payments_gateway_secret.get_secret_value()
    return configured.encode() if configured else derive_key(settings.secret_key.get_secret_value(), "local-gateway")


def gateways_of(runtime: Runtime) -> dict[str, Gateway]:
    """The gateways this node can receive callbacks from: the configured one, and the local one outside production."""
    found: dict[str, Gateway] | None = runtime.db.info.get("payments_gateways")
    if found is None:
        s = runtime.settings
        found = {}
        if s.env != "production":
            found["local"] = LocalGateway(local_secret(s), s.base_url, s.payments_callback_tolerance_seconds)
        if s.payments_gateway == "razorpay":
            found["razorpay"] = RazorpayGateway(
                s.payments_razorpay_key_id,
                s.payments_razorpay_key_secret.get_secret_value(),
                s.payments_razorpay_webhook_secret.get_secret_value(),
                s.payments_razorpay_base_url,
                s.payments_callback_tolerance_seconds,
            )
        runtime.db.info["payments_gateways"] = found  # built once per runtime, beside it
    return found


def gateway_named(runtime: Runtime, name: str) -> Gateway:
    gw = gateways_of(runtime).get(name)
    if gw is None:
        raise NotFound(f"no payment gateway {name!r} on this node")
    return gw


def default_gateway(runtime: Runtime) -> Gateway:
    return gateways_of(runtime)[runtime.settings.payments_gateway]


def local_gateway(runtime: Runtime) -> LocalGateway:
    gw = gateways_of(runtime).get("local")
    if not isinstance(gw, LocalGateway):
        raise BadCallback("the local gateway is not available on this node")
    return gw


def now_unix(at: datetime | None = None) -> int:
    return int((at or utcnow()).timestamp())


# -- the local gateway's callbacks, delivered by the worker ----------------------------------------


@task(CALLBACK)
def deliver_local_callback(session: Session, payload: dict[str, Any]) -> None:
    """Send the local gateway's signed callback, retrying with backoff until it is answered, as providers do.

    The POST is made after this job's transaction ends: on SQLite the job holds the one write
    lock, which the callback's own request needs. A failed POST queues the next attempt.
    """
    runtime = runtime_of(session)
    gw = local_gateway(runtime)
    order = session.get(LocalGatewayOrder, payload["order_id"])
    if order is None:
        return
    body, url, attempt = gw.callback_body(order), order.callback_url, int(payload.get("attempt", 1))
    after_commit(session, lambda: _send(runtime, gw, order.id, url, body, attempt))


def _send(runtime: Runtime, gw: LocalGateway, order_id: str, url: str, body: bytes, attempt: int) -> None:
    try:
        gw.post_callback(url, body)
    except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried
        if attempt >= CALLBACK_ATTEMPTS:
            log.warning("local gateway: callback for %s not delivered after %d attempts: %r", order_id, attempt, exc)
            return
        log.info("local gateway: callback for %s failed (attempt %d): %r; retrying", order_id, attempt, exc)
        try:
            with runtime.db.unit_of_work() as session:
                job = enqueue(
                    session, CALLBACK, {"order_id": order_id, "attempt": attempt + 1}, dedupe_key=f"lgcb:{order_id}:{attempt + 1}"
                )
                job.run_after = utcnow() + timedelta(seconds=backoff_seconds(attempt))
        except Exception as again:  # noqa: BLE001 - the database is away too: reconciliation settles it
            log.warning("local gateway: could not queue the retry for %s: %r", order_id, again)

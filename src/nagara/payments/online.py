"""Online payments: open one at the gateway for what a demand costs today, then learn its outcome
from the gateway's signed server-to-server callback, the payer's browser return, or, when neither
comes, reconciliation (asking the gateway). Every callback and return is recorded as a gateway
event; what the gateway says is applied by :func:`apply_gateway_status`, which settles through
``settlement.settle`` exactly once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nagara.kit.access import Principal
from nagara.kit.api import API_PREFIX
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Forbidden, Invalid
from nagara.payments.demands import amount_due, get_demand
from nagara.payments.gateways import BadCallback, CallbackEvent, default_gateway, gateway_named, gateways_of
from nagara.payments.models import Demand, GatewayEvent, Payment
from nagara.payments.service import (
    AlreadyPaid,
    CallbackRejected,
    Created,
    by_key,
    local_day,
    payment_settings,
    replay,
    request_hash,
)
from nagara.payments.settlement import settle
from nagara.runtime import runtime_of

log = logging.getLogger("nagara.payments")


def _may_pay(principal: Principal, demand: Demand) -> bool:
    return demand.payer_id == principal.user_id or principal.may(
        "payments:payment:collect", state_code=demand.state_code, local_body_code=demand.local_body_code
    )


def create_online_payment(
    session: Session, principal: Principal, number: str, *, method: str, idempotency_key: str | None
) -> Created:
    """Open an online payment for what the demand costs today; the same Idempotency-Key gives the same payment."""
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 120):
        raise Invalid(
            "bad Idempotency-Key",
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "1 to 120 characters, unique per payment you mean",
                    "type": "value_error",
                }
            ],
        )
    fingerprint = request_hash(demand=number, method=method)
    if idempotency_key:
        existing = by_key(session, principal, idempotency_key)
        if existing is not None:
            return replay(session, existing, fingerprint)
    demand = get_demand(session, principal, number, for_update=True)
    if not _may_pay(principal, demand):
        raise Forbidden("only the demand's payer (or a counter clerk of the local body) may pay it")
    if demand.status != "due":
        raise AlreadyPaid(f"demand {demand.number} is {demand.status}; nothing is due", extra={"demand_status": demand.status})
    now = utcnow()
    amount, lines = amount_due(session, demand, local_day(session, demand.state_code, now))
    runtime = runtime_of(session)
    gateway = default_gateway(runtime)
    payment = Payment(
        id=new_id(),
        demand_id=demand.id,
        local_body_code=demand.local_body_code,
        channel="online",
        method=method,
        gateway=gateway.name,
        amount=amount,
        lines=lines,
        status="created",
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        created_by_id=principal.user_id,
        expires_at=now + timedelta(seconds=runtime.settings.payments_order_ttl_seconds),
    )
    base = runtime.settings.base_url
    order = gateway.create_order(
        session,
        amount=amount,
        reference=payment.id,
        return_url=f"{base}{API_PREFIX}/payments/return/{gateway.name}",
        callback_url=f"{base}{API_PREFIX}/payments/callback/{gateway.name}",
    )
    payment.gateway_order_id = order.order_id
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        if idempotency_key is None:
            raise
        existing = by_key(session, principal, idempotency_key)  # the same key, sent twice at once
        if existing is None:
            raise
        return replay(session, existing, fingerprint)
    return Created(payment, order.redirect_url, replayed=False)


def upi_link(session: Session, payment: Payment) -> str | None:
    """``upi://pay`` for the amount due (NPCI's deep-link parameters), when the local body has a VPA."""
    upi = payment_settings(session, payment.local_body_code).get("upi") or {}
    if not upi.get("vpa") or payment.channel != "online":
        return None
    demand = session.get(Demand, payment.demand_id)
    params = {
        "pa": upi["vpa"],
        "pn": upi.get("payee_name", payment.local_body_code),
        "am": f"{payment.amount / 100:.2f}",
        "cu": "INR",
        "tr": payment.gateway_order_id or payment.id,
        "tn": f"Demand {demand.number if demand else ''}"[:50],
    }
    return "upi://pay?" + urlencode(params, quote_via=quote)


# -- callbacks and returns --------------------------------------------------------------------------


def _event(
    session: Session,
    *,
    gateway: str,
    kind: str,
    outcome: str,
    body: str,
    reason: str | None = None,
    payment: Payment | None = None,
    event_id: str | None = None,
) -> GatewayEvent:
    ev = GatewayEvent(
        gateway=gateway,
        kind=kind,
        outcome=outcome,
        reason=reason,
        body=body[:20_000],
        payment_id=payment.id if payment else None,
        local_body_code=payment.local_body_code if payment else None,
        event_id=event_id,
    )
    session.add(ev)
    session.flush()
    if outcome in ("rejected", "mismatch"):
        log.warning("payments: %s %s %s: %s", gateway, kind, outcome, reason)
    return ev


def handle_callback(session: Session, gateway_name: str, headers: dict[str, str], body: bytes) -> str:
    """Verify and apply one server-to-server callback; every one is recorded, a bad one changes nothing else."""
    gw = gateway_named(runtime_of(session), gateway_name)
    text = body.decode("utf-8", errors="replace")
    try:
        event = gw.parse_callback(headers, body)
    except BadCallback as exc:
        _event(session, gateway=gateway_name, kind="callback", outcome="rejected", body=text, reason=str(exc))
        raise CallbackRejected(str(exc), keep_changes=True) from None
    payment = session.scalar(
        select(Payment).where(Payment.gateway == gateway_name, Payment.gateway_order_id == event.order_id).with_for_update()
    )
    if payment is None:
        reason = f"no payment for order {event.order_id!r}"
        _event(
            session, gateway=gateway_name, kind="callback", outcome="rejected", body=text, reason=reason, event_id=event.event_id
        )
        raise CallbackRejected(reason, keep_changes=True)
    return apply_gateway_status(session, payment, event, kind="callback", body=text)


def apply_gateway_status(session: Session, payment: Payment, event: CallbackEvent, *, kind: str, body: str) -> str:
    """Apply what the gateway says about a payment (from a callback, a return or reconciliation)."""
    record = partial(
        _event, session, gateway=payment.gateway or "", kind=kind, body=body, payment=payment, event_id=event.event_id
    )
    if event.status == "paid":
        if event.amount != payment.amount:
            reason = f"the gateway reports {event.amount} paise paid, the payment is for {payment.amount}"
            record(outcome="mismatch", reason=reason)
            if kind == "callback":
                raise CallbackRejected(reason, keep_changes=True)
            return "mismatch"
        if payment.status == "succeeded":
            record(outcome="duplicate", reason="already settled")
            return "duplicate"
        late = payment.status in ("expired", "failed")
        settle(session, payment, payment_ref=event.payment_ref, actor_role="system")
        record(outcome="settled", reason="after the payment had expired" if late else None)
        return "settled"
    if event.status == "failed":
        if payment.status == "created":
            payment.status = "failed"
            record(outcome="failed")
            return "failed"
        record(outcome="duplicate", reason=f"failure reported for a payment that is {payment.status}")
        return "duplicate"
    record(outcome="pending")
    return "pending"


def handle_return(session: Session, gateway_name: str, params: dict[str, str]) -> Payment | None:
    """The payer's browser is back: check the signature, then ask the gateway (the return carries no amount)."""
    gw = gateway_named(runtime_of(session), gateway_name)
    text = json.dumps(params, sort_keys=True)
    try:
        order_id = gw.parse_return(params)
    except BadCallback as exc:
        _event(session, gateway=gateway_name, kind="return", outcome="rejected", body=text, reason=str(exc))
        return None
    payment = session.scalar(
        select(Payment).where(Payment.gateway == gateway_name, Payment.gateway_order_id == order_id).with_for_update()
    )
    if payment is None:
        _event(session, gateway=gateway_name, kind="return", outcome="rejected", body=text, reason="unknown order")
        return None
    if payment.status == "succeeded":
        _event(session, gateway=gateway_name, kind="return", outcome="duplicate", body=text, payment=payment)
        return payment
    status = gw.fetch(session, order_id)
    event = CallbackEvent(f"return:{order_id}:{status.status}", order_id, status.status, status.amount, status.payment_ref)
    apply_gateway_status(session, payment, event, kind="return", body=text)
    return payment


# -- reconciliation ------------------------------------------------------------------------------


def reconcile(session: Session, *, now: datetime | None = None, limit: int = 200) -> dict[str, Any]:
    """Ask the gateway about online payments whose callback has not come; settle, fail or expire them.

    Expired payments are asked again for a day, so a late success is never lost. Mismatches
    (the gateway's amount differs) change nothing and are reported.
    """
    now = now or utcnow()
    runtime = runtime_of(session)
    quiet = now - timedelta(seconds=runtime.settings.payments_reconcile_after_seconds)
    report: dict[str, Any] = {"checked": 0, "settled": 0, "failed": 0, "expired": 0, "mismatches": []}
    candidates = session.scalars(
        select(Payment)
        .where(
            Payment.channel == "online",
            or_(
                (Payment.status == "created") & (Payment.created_at <= quiet),
                (Payment.status.in_(("expired", "failed"))) & (Payment.created_at >= now - timedelta(days=1)),
            ),
        )
        .order_by(Payment.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    gateways = gateways_of(runtime)
    for payment in list(candidates):
        gw = gateways.get(payment.gateway or "")
        if gw is None or not payment.gateway_order_id:
            continue
        report["checked"] += 1
        try:
            status = gw.fetch(session, payment.gateway_order_id)
        except (BadCallback, OSError) as exc:
            report["mismatches"].append({"payment": payment.id, "problem": f"gateway could not be asked: {exc}"})
            continue
        if status.status == "paid":
            event = CallbackEvent(
                f"reconcile:{payment.gateway_order_id}", payment.gateway_order_id, "paid", status.amount, status.payment_ref
            )
            outcome = apply_gateway_status(session, payment, event, kind="reconcile", body=json.dumps(status.__dict__))
            if outcome == "settled":
                report["settled"] += 1
            elif outcome == "mismatch":
                report["mismatches"].append(
                    {"payment": payment.id, "problem": f"gateway says {status.amount} paise paid, expected {payment.amount}"}
                )
        elif status.status == "failed" and payment.status == "created":
            payment.status = "failed"
            _event(
                session, gateway=gw.name, kind="reconcile", outcome="failed", body=json.dumps(status.__dict__), payment=payment
            )
            report["failed"] += 1
        elif payment.status == "created" and payment.expires_at is not None and payment.expires_at <= now:
            payment.status = "expired"
            _event(
                session,
                gateway=gw.name,
                kind="reconcile",
                outcome="pending",
                reason="expired unpaid",
                body=json.dumps(status.__dict__),
                payment=payment,
            )
            report["expired"] += 1
    session.flush()
    if report["mismatches"]:
        log.warning("payments reconciliation found %d mismatch(es): %s", len(report["mismatches"]), report["mismatches"])
    return report

"""Refunds: asked for by the secretary (all or part of an applied payment), or made at once when
money arrives for a demand that was already paid (an excess). Each is a receipt in the refunds
register (``RF``), one balanced voucher and a ledger entry; an online payment is refunded through
its gateway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Conflict, Invalid
from nagara.kit.text import strip_bidi
from nagara.ledger import service as ledger
from nagara.payments import accounts, receipts
from nagara.payments.gateways import gateway_named
from nagara.payments.models import Demand, Payment, Refund
from nagara.payments.service import get_payment, local_day, require_body
from nagara.runtime import runtime_of


def refund(session: Session, principal: Principal, payment_id: str, *, amount: int, reason: str) -> Refund:
    """Refund ``amount`` of an applied payment (the secretary of its local body)."""
    reason = strip_bidi(reason)
    payment = get_payment(session, principal, payment_id)
    session.refresh(payment, with_for_update=True)
    require_body(principal, "payments:payment:refund", payment.local_body_code)
    left = payment.amount - payment.refunded_amount
    if payment.status != "succeeded" or payment.outcome != "applied":
        raise Conflict(f"payment {payment.id} is {payment.status} ({payment.outcome}); only an applied payment is refunded")
    if not 0 < amount <= left:
        raise Invalid(
            "bad refund amount", [{"loc": ["body", "amount"], "msg": f"between 1 and {left} paise", "type": "value_error"}]
        )
    demand = session.get(Demand, payment.demand_id, with_for_update=True)
    if demand is None:
        raise RuntimeError("payment without a demand")
    made = make_refund(
        session, payment, demand, amount=amount, reason=reason, kind="requested", by=principal.user_id, now=utcnow()
    )
    demand.paid_amount -= amount
    if demand.paid_amount == 0:
        demand.status = "refunded"
    session.flush()
    return made


def make_refund(
    session: Session, payment: Payment, demand: Demand, *, amount: int, reason: str, kind: str, by: str | None, now: datetime
) -> Refund:
    """Pay ``amount`` of ``payment`` back (``kind`` requested or excess): the gateway first, then the receipt."""
    made = Refund(
        payment_id=payment.id,
        local_body_code=payment.local_body_code,
        amount=amount,
        reason=reason,
        kind=kind,
        requested_by_id=by,
    )
    session.add(made)
    session.flush()
    if payment.channel == "online" and payment.gateway:
        made.gateway_refund_id = gateway_named(runtime_of(session), payment.gateway).refund(
            session, order_id=payment.gateway_order_id or "", payment_ref=payment.gateway_payment_id, amount=amount, key=made.id
        )
    payment.refunded_amount += amount
    day = local_day(session, demand.state_code, now)
    lines = [{"code": "refund", "head": "refund", "account": "", "name": {"en": reason[:200]}, "amount": amount}]
    receipt = receipts.issue(
        session, payment, demand, kind="refund", amount=amount, lines=lines, day=day, now=now, refund_id=made.id
    )
    accounts.post(
        session,
        local_body_code=demand.local_body_code,
        day=day,
        source="refund",
        source_id=made.id,
        narration=f"Refund {receipt.number} of payment for demand {demand.number}",
        postings=accounts.refund_postings(payment.method, amount, excess=kind == "excess", kind=demand.kind),
    )
    ledger.append(
        session,
        type="payment.refunded",
        tenant_code=demand.local_body_code,
        subject=demand.number,
        content={"receipt": receipt.number, "amount": amount, "kind": kind, "at": now.isoformat()},
        actor_role="system" if by is None else "secretary",
    )
    return made

"""Settlement: money has arrived (online or at the counter) and is applied exactly once.

The demand's row is locked and its status read under the lock: from ``due`` it becomes ``paid``
and an application's fee is marked paid (a history step, and the self-certified approval that
waited for the fee); otherwise the money is an excess, received and refunded at once. Either way
a receipt is issued, one balanced voucher posted and a ledger entry appended. The receipt's number
is taken after the rows this needs are read and locked, so the register's counter is held only
for the writes at the end.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.applications.service import service_for
from nagara.catalog.definitions import Service
from nagara.kit.db import utcnow
from nagara.ledger import service as ledger
from nagara.payments import accounts, receipts
from nagara.payments.models import Demand, Payment, Receipt
from nagara.payments.refunds import make_refund
from nagara.payments.service import local_day
from nagara.workflow import engine


def settle(
    session: Session, payment: Payment, *, payment_ref: str | None, actor_role: str, now: datetime | None = None
) -> Receipt:
    """Money has arrived: pay the demand if it is still due, or take it as an excess and refund it."""
    now = now or utcnow()
    demand = session.get(Demand, payment.demand_id, with_for_update=True, populate_existing=True)
    if demand is None:
        raise RuntimeError("payment without a demand")
    payment.status = "succeeded"
    payment.settled_at = now
    payment.gateway_payment_id = payment_ref or payment.gateway_payment_id
    day = local_day(session, demand.state_code, now)
    payment.business_date = payment.business_date or day
    excess = demand.status != "due"
    payment.outcome = "excess" if excess else "applied"
    # Read and lock what the fee step needs before the receipt's number is taken.
    app = session.get(Application, demand.application_id, with_for_update=True) if demand.application_id and not excess else None
    service = service_for(session, app) if app is not None and not app.fee_paid else None
    lines = (
        [
            {
                "code": "excess",
                "head": "excess",
                "account": accounts.EXCESS_ACCOUNT,
                "name": {"en": "Excess collection, to be refunded"},
                "amount": payment.amount,
            }
        ]
        if excess
        else payment.lines
    )
    receipt = receipts.issue(session, payment, demand, kind="payment", amount=payment.amount, lines=lines, day=day, now=now)
    accounts.post(
        session,
        local_body_code=demand.local_body_code,
        day=day,
        source="receipt",
        source_id=receipt.id,
        narration=f"Receipt {receipt.number} for demand {demand.number} ({payment.method})",
        postings=accounts.collection_postings(payment.method, payment.amount, lines, excess=excess),
    )
    ledger.append(
        session,
        type="payment.received",
        tenant_code=demand.local_body_code,
        subject=demand.number,
        content={"receipt": receipt.number, "amount": payment.amount, "method": payment.method, "at": now.isoformat()},
        actor_role=actor_role,
    )
    if excess:
        make_refund(
            session,
            payment,
            demand,
            amount=payment.amount,
            reason=f"demand {demand.number} was already paid",
            kind="excess",
            by=None,
            now=now,
        )
        return receipt
    demand.status = "paid"
    demand.paid_amount = payment.amount
    demand.paid_at = now
    demand.paid_by_payment_id = payment.id
    if app is not None and service is not None:
        _mark_fee_paid(session, app, service, demand, receipt, actor_role, payment, now)
    session.flush()
    return receipt


def _mark_fee_paid(
    session: Session,
    app: Application,
    service: Service,
    demand: Demand,
    receipt: Receipt,
    actor_role: str,
    payment: Payment,
    now: datetime,
) -> None:
    app.fee_paid = True
    engine.record_step(
        session,
        service,
        app,
        action="fee_paid",
        to_state=app.state,
        actor_id=payment.collected_by_id,
        actor_role=actor_role,
        comment=f"receipt {receipt.number}, Rs {receipt.amount / 100:.2f} ({payment.method})",
        now=now,
        data={"receipt": receipt.number, "amount": receipt.amount},
    )
    if demand.then_state and app.is_open and app.state == service.workflow["start"]:
        engine.self_certify(session, service, app, demand.then_state, now)

"""The counter: a clerk of the local body takes cash, a cheque or a demand draft for exactly what a
demand costs today, and the receipt is issued at once. A clerk who has closed the day's counter
collects no more that day (see ``reports.close_day``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.access import Principal, require, scope
from nagara.kit.db import utcnow
from nagara.kit.errors import Conflict, Invalid
from nagara.payments.demands import amount_due, get_demand
from nagara.payments.models import DayClose, Payment, Receipt
from nagara.payments.service import AlreadyPaid, by_key, local_day, replay, request_hash
from nagara.payments.settlement import settle
from nagara.tenancy.models import LocalBody

COLLECT = "payments:payment:collect"


def counter_bodies(session: Session, principal: Principal) -> list[str]:
    """The local bodies where the principal keeps a counter (may collect), in code order."""
    where = scope(principal, COLLECT, state_col=LocalBody.state_code, local_body_col=LocalBody.code)
    return list(session.scalars(select(LocalBody.code).where(where).order_by(LocalBody.code)))


def counter_payment(
    session: Session,
    principal: Principal,
    number: str,
    *,
    method: str,
    amount: int,
    instrument: dict[str, Any] | None,
    idempotency_key: str | None,
) -> Receipt:
    """A counter clerk takes cash, a cheque or a demand draft for exactly what is due today."""
    fingerprint = request_hash(demand=number, method=method, amount=amount, instrument=instrument)
    if idempotency_key:
        existing = by_key(session, principal, idempotency_key)
        if existing is not None:
            replay(session, existing, fingerprint)
            found = session.scalar(select(Receipt).where(Receipt.payment_id == existing.id, Receipt.kind == "payment"))
            if found is not None:
                return found
    demand = get_demand(session, principal, number, for_update=True)
    require(principal, COLLECT, state_code=demand.state_code, local_body_code=demand.local_body_code)
    if demand.status != "due":
        raise AlreadyPaid(f"demand {demand.number} is {demand.status}; nothing is due", extra={"demand_status": demand.status})
    if method != "cash" and not (instrument and instrument.get("number") and instrument.get("bank")):
        raise Invalid(
            "instrument details missing",
            [{"loc": ["body", "instrument"], "msg": f"a {method} needs its number and bank", "type": "missing"}],
        )
    now = utcnow()
    day = local_day(session, demand.state_code, now)
    closed = session.scalar(
        select(DayClose.id).where(
            DayClose.local_body_code == demand.local_body_code,
            DayClose.business_date == day,
            DayClose.clerk_id == principal.user_id,
        )
    )
    if closed:
        raise Conflict(f"you closed your counter for {day.isoformat()}; collections reopen tomorrow")
    due, lines = amount_due(session, demand, day)
    if amount != due:
        raise Invalid(
            "wrong amount",
            [
                {
                    "loc": ["body", "amount"],
                    "msg": f"the amount due today is {due} paise (Rs {due / 100:.2f}), not {amount}",
                    "type": "value_error",
                }
            ],
        )
    payment = Payment(
        demand_id=demand.id,
        local_body_code=demand.local_body_code,
        channel="counter",
        method=method,
        amount=amount,
        lines=lines,
        status="created",
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        created_by_id=principal.user_id,
        collected_by_id=principal.user_id,
        instrument=instrument,
        business_date=day,
    )
    session.add(payment)
    session.flush()
    return settle(session, payment, payment_ref=None, actor_role="counter_clerk", now=now)

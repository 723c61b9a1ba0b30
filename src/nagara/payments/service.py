"""What the payments modules share: errors, the place's day and settings, who sees a demand or a
payment, and idempotent payment requests.

Where to look:

- ``demands.py``: raising demands (an application's fee, property tax), reading them, what paying
  one costs today; the calls the workflow makes (raise, cancel, reopen, the demand's number).
- ``online.py``: online payments, the gateway's callbacks and the payer's return, reconciliation.
- ``counter.py``: cash, cheque and demand draft at the counter.
- ``settlement.py``: money has arrived: the demand is paid exactly once, the fee marked paid.
- ``refunds.py``: refunds asked for, and excess collections refunded at once.
- ``receipts.py``: receipts (numbered in a register of the local body) and their PDF.
- ``reports.py``: the counter's day report and close, the trial balance.
- ``accounts.py``: the double-entry journal; ``property_tax.py``: the tax's arithmetic;
  ``gateways.py``: the gateway adapters.

The one rule that keeps money right: a demand is settled only while holding its row (``FOR UPDATE``
on PostgreSQL; SQLite has one writer), and only from ``due``. A success that finds the demand
already paid (two tabs, a counter payment and a late online success) is received as an excess and
refunded in the same transaction. Settling a payment twice is impossible: its status is checked
under the same lock, and every duplicate is recorded and answered without change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from nagara.kit.access import Principal, require, scope
from nagara.kit.errors import Conflict, NotFound, Problem
from nagara.payments.models import Demand, Payment
from nagara.runtime import runtime_of
from nagara.tenancy import context as tenancy


class CallbackRejected(Problem):
    status = 400
    type_slug = "callback-rejected"
    title = "Callback rejected"


class AlreadyPaid(Problem):
    status = 409
    type_slug = "already-paid"
    title = "Already paid"


# -- places and days -----------------------------------------------------------------------------


MAX_RUPEES = 10**12  # a single amount above a lakh crore rupees is a typing error, and stays far inside 64 bits


def paise_of_rupees(text: str) -> int | None:
    """``"1,260.50"`` is 126050 paise; None for anything else: not a number, not finite, more
    than two decimals, negative, or at least ``MAX_RUPEES``."""
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value >= MAX_RUPEES or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)


def local_day(session: Session, state_code: str, at: datetime) -> date:
    """The day it is at ``at`` in the state's time zone (financial years and due dates count these)."""
    return at.astimezone(tenancy.zone_of(session, state_code)).date()


def payment_settings(session: Session, local_body_code: str) -> dict[str, Any]:
    """The body's ``payments`` settings (state defaults with its overrides), from the tenancy context."""
    settings = tenancy.body_place(session, local_body_code).settings.get("payments") or {}
    return dict(tenancy.thaw(settings))


# -- who sees what -------------------------------------------------------------------------------


def demand_visible(principal: Principal) -> ColumnElement[bool]:
    """The payer's own demands, and those of the places where the principal reads demands or collects."""
    return or_(
        Demand.payer_id == principal.user_id,
        scope(principal, "payments:demand:read", state_col=Demand.state_code, local_body_col=Demand.local_body_code),
        scope(principal, "payments:payment:collect", state_col=Demand.state_code, local_body_col=Demand.local_body_code),
    )


def require_body(principal: Principal, permission: str, local_body_code: str) -> None:
    require(principal, permission, state_code=tenancy.parse_tenant(local_body_code).state, local_body_code=local_body_code)


def made_here(principal: Principal, payment: Payment) -> bool:
    """The principal made this payment and may still make payments at its local body.

    Access comes from the roles held now: a clerk or operator whose role there is revoked no
    longer sees the payments they once took (a payer sees theirs through the demand).
    """
    if payment.created_by_id != principal.user_id:
        return False
    state_code = tenancy.parse_tenant(payment.local_body_code).state
    return any(
        principal.may(permission, state_code=state_code, local_body_code=payment.local_body_code)
        for permission in ("payments:payment:collect", "payments:payment:create")
    )


def may_see_payment(session: Session, principal: Principal, payment: Payment) -> bool:
    """Its maker while they may still take payments there, or whoever sees its demand."""
    return (
        made_here(principal, payment)
        or session.scalar(select(Demand.id).where(Demand.id == payment.demand_id, demand_visible(principal))) is not None
    )


def get_payment(session: Session, principal: Principal, payment_id: str) -> Payment:
    """A payment its maker (see :func:`made_here`), or whoever sees its demand, may see."""
    payment = session.get(Payment, payment_id)
    if payment is not None and may_see_payment(session, principal, payment):
        return payment
    raise NotFound(f"no payment {payment_id!r} that you may see")


# -- idempotent requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    payment: Payment
    redirect_url: str | None
    replayed: bool


def request_hash(**parts: Any) -> str:
    """What a payment request asked for, to tell a retry (the same) from a new request under an old key."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def by_key(session: Session, principal: Principal, key: str) -> Payment | None:
    """The payment the principal made under this Idempotency-Key, if they may still see it."""
    payment = session.scalar(select(Payment).where(Payment.created_by_id == principal.user_id, Payment.idempotency_key == key))
    if payment is not None and not may_see_payment(session, principal, payment):
        raise NotFound("the payment made under this Idempotency-Key is not one you may see now")
    return payment


def replay(session: Session, existing: Payment, fingerprint: str) -> Created:
    """The payment an Idempotency-Key already made, if the request is the same one."""
    if existing.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different request; use a new key for a new payment",
            extra={"payment": existing.id},
        )
    return Created(existing, redirect_url_of(session, existing), replayed=True)


def redirect_url_of(session: Session, payment: Payment) -> str | None:
    if payment.channel != "online" or payment.status != "created" or not payment.gateway_order_id:
        return None
    if payment.gateway == "local":
        return f"{runtime_of(session).settings.base_url}/gateway/local/pay/{payment.gateway_order_id}"
    return None

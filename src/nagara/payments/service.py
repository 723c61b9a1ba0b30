"""Payments operations: raise demands, pay them online or at the counter, settle callbacks exactly
once, refund, issue receipts, post the journal, reconcile, report the counter's day.

The one rule that keeps money right: a demand is settled only while holding its row (``FOR UPDATE``
on PostgreSQL; SQLite has one writer), and only from ``due``. A success that finds the demand
already paid (two tabs, a counter payment and a late online success) is received as an excess and
refunded in the same transaction. Settling a payment twice is impossible: its status is checked
under the same lock, and every duplicate is recorded and answered without change.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.identity.models import User
from nagara.kit.access import Principal, require
from nagara.kit.api import API_PREFIX
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from nagara.ledger import service as ledger
from nagara.payments import accounts, property_tax
from nagara.payments.gateways import BadCallback, CallbackEvent, Gateway, default_gateway, gateways_of
from nagara.payments.models import (
    DayClose,
    Demand,
    DemandLine,
    GatewayEvent,
    JournalEntry,
    Payment,
    Property,
    Receipt,
    Refund,
)
from nagara.runtime import runtime_of
from nagara.tenancy.models import LocalBody, State
from nagara.tenancy.service import effective_settings

log = logging.getLogger("nagara.payments")

COUNTER_METHODS = ("cash", "cheque", "dd")
ONLINE_METHODS = ("gateway", "upi")


class CallbackRejected(Problem):
    status = 400
    type_slug = "callback-rejected"
    title = "Callback rejected"


class AlreadyPaid(Problem):
    status = 409
    type_slug = "already-paid"
    title = "Already paid"


# -- places, dates, numbers ----------------------------------------------------------------------


def _zone(session: Session, state_code: str) -> ZoneInfo:
    state = session.get(State, state_code)
    return ZoneInfo(state.timezone if state else "Asia/Kolkata")


def local_day(session: Session, state_code: str, at: datetime) -> date:
    return at.astimezone(_zone(session, state_code)).date()


def _prefix(local_body_code: str, kind: str, fy: str) -> str:
    state, body = local_body_code.split(".", 1)
    return f"{state.upper()}-{body.replace('-', '').upper()[:10]}-{kind}-{fy}"


def _next(session: Session, prefix: str) -> str:
    from nagara.applications.service import next_number

    return f"{prefix}-{next_number(session, prefix):06d}"


def _number_block(session: Session, prefix: str, count: int) -> int:
    """The first of ``count`` consecutive numbers for ``prefix`` (as ``next_number``, in one statement)."""
    from sqlalchemy import update
    from sqlalchemy.engine import Connection

    from nagara.applications.models import NumberCounter
    from nagara.kit.db import insert_ignoring_conflict

    def bump(conn: Connection) -> int:
        insert_ignoring_conflict(conn, NumberCounter.__table__, {"prefix": prefix, "last": 0})
        query = update(NumberCounter).where(NumberCounter.prefix == prefix).values(last=NumberCounter.last + count)
        return int(conn.execute(query.returning(NumberCounter.last)).scalar_one()) - count + 1

    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        engine = bind.engine if isinstance(bind, Connection) else bind
        with engine.begin() as conn:
            return bump(conn)
    return bump(session.connection())


_SETTINGS: dict[tuple[str, str, str], dict[str, Any]] = {}


def payment_settings(session: Session, local_body_code: str) -> dict[str, Any]:
    """The body's ``payments`` settings (state defaults with its overrides); cached until its pack changes."""
    body = session.get(LocalBody, local_body_code)
    state = session.get(State, body.state_code) if body else None
    if body is None or state is None:
        raise NotFound(f"no local body {local_body_code!r}")
    key = (session.get_bind().engine.url.render_as_string(), local_body_code, state.pack_digest)
    found = _SETTINGS.get(key)
    if found is None:
        found = effective_settings(session, local_body_code).get("payments") or {}
        _SETTINGS[key] = found
    return found


# -- who sees what -------------------------------------------------------------------------------


def _officer_clause(principal: Principal, permission: str, state_col: Any, body_col: Any) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if permission not in g.permissions or g.scope == "self":
            continue
        clause = state_col == g.state_code
        if g.scope != "state" and g.local_body_code:
            clause = clause & (body_col == g.local_body_code)
        clauses.append(clause)
    return clauses


def demand_visible(principal: Principal) -> ColumnElement[bool]:
    return or_(
        Demand.payer_id == principal.user_id,
        *_officer_clause(principal, "payments:demand:read", Demand.state_code, Demand.local_body_code),
        *_officer_clause(principal, "payments:payment:collect", Demand.state_code, Demand.local_body_code),
    )


def get_demand(session: Session, principal: Principal, number: str, *, for_update: bool = False) -> Demand:
    query = select(Demand).where(Demand.number == number, demand_visible(principal))
    if for_update:
        query = query.with_for_update()
    demand = session.scalar(query)
    if demand is None:
        raise NotFound(f"no demand {number!r} that you may see")
    return demand


def list_demands(
    session: Session,
    principal: Principal,
    *,
    local_body: str | None = None,
    status: str | None = None,
    application: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Demand]:
    query = select(Demand).where(demand_visible(principal))
    if local_body:
        query = query.where(Demand.local_body_code == local_body)
    if status:
        query = query.where(Demand.status == status)
    if application:
        query = query.join(Application, Application.id == Demand.application_id).where(Application.number == application)
    return list(session.scalars(query.order_by(Demand.created_at.desc(), Demand.number).limit(limit).offset(offset)))


def demand_lines(session: Session, demand: Demand) -> list[DemandLine]:
    return list(session.scalars(select(DemandLine).where(DemandLine.demand_id == demand.id).order_by(DemandLine.seq)))


def _line_dicts(session: Session, demand: Demand) -> list[dict[str, Any]]:
    return [
        {"code": ln.code, "head": ln.head, "account": ln.account, "name": ln.name, "amount": ln.amount}
        for ln in demand_lines(session, demand)
    ]


def amount_due(session: Session, demand: Demand, on: date) -> tuple[int, list[dict[str, Any]]]:
    """What paying ``demand`` on ``on`` costs, and its lines (a rebate or penalty included)."""
    lines = _line_dicts(session, demand)
    if demand.kind == "property_tax":
        lines += property_tax.adjustments(demand.rules, lines, due=demand.due_date, rebate_until=demand.rebate_until, on=on)
    return property_tax.total(lines), lines


# -- raising demands -----------------------------------------------------------------------------


def _add_lines(session: Session, demand: Demand, lines: list[dict[str, Any]]) -> None:
    for seq, line in enumerate(lines, 1):
        session.add(
            DemandLine(
                demand_id=demand.id,
                seq=seq,
                code=line["code"],
                head=line["head"],
                account=accounts.account_for(line["head"], line.get("account")),
                name=line["name"],
                amount=line["amount"],
            )
        )


def raise_for_application(session: Session, app: Application, *, then_state: str | None, now: datetime) -> Demand:
    """The application's fee as a demand, payable by the applicant; raised at submission."""
    day = local_day(session, app.state_code, now)
    fy = property_tax.financial_year(day)
    due_days = int(payment_settings(session, app.local_body_code).get("fee_due_days", 30))
    demand = Demand(
        number=_next(session, _prefix(app.local_body_code, "D", fy)),
        state_code=app.state_code,
        local_body_code=app.local_body_code,
        kind="application",
        application_id=app.id,
        payer_id=app.applicant_id,
        description={"en": f"Fee for application {app.number} ({app.service_code})"},
        amount=app.fee_total,
        due_date=day + timedelta(days=due_days),
        then_state=then_state,
    )
    session.add(demand)
    session.flush()
    lines = [ln for ln in app.fee_lines if ln["amount"]]
    _add_lines(session, demand, lines)
    session.flush()
    return demand


def register_property(
    session: Session,
    *,
    local_body_code: str,
    assessment_number: str,
    usage: str,
    zone: int,
    plinth_area_sqm: int,
    owner_id: str | None = None,
    ward_code: str | None = None,
) -> Property:
    body = session.get(LocalBody, local_body_code)
    if body is None:
        raise NotFound(f"no local body {local_body_code!r}")
    rules = payment_settings(session, local_body_code).get("property_tax")
    if not rules:
        raise Invalid(
            "no property tax rules",
            [{"loc": ["local_body"], "msg": "the pack defines no property tax here", "type": "value_error"}],
        )
    try:
        property_tax.rate_for(rules, usage, zone)
    except ValueError as exc:
        raise Invalid("unknown use or zone", [{"loc": ["body", "usage"], "msg": str(exc), "type": "value_error"}]) from None
    prop = Property(
        local_body_code=local_body_code,
        state_code=body.state_code,
        ward_code=ward_code,
        assessment_number=assessment_number,
        usage=usage,
        zone=zone,
        plinth_area_sqm=plinth_area_sqm,
        owner_id=owner_id,
    )
    session.add(prop)
    session.flush()
    return prop


def raise_property_demands(
    session: Session, local_body_code: str, period: str | None = None, *, now: datetime | None = None
) -> int:
    """A demand for the half-year for every active property that has none yet. Idempotent."""
    now = now or utcnow()
    body = session.get(LocalBody, local_body_code)
    if body is None:
        raise NotFound(f"no local body {local_body_code!r}")
    rules = payment_settings(session, local_body_code).get("property_tax")
    if not rules:
        return 0
    try:
        half = (
            property_tax.parse_period(rules, period)
            if period
            else property_tax.half_for(rules, local_day(session, body.state_code, now))
        )
    except (ValueError, IndexError) as exc:
        raise Invalid(
            "unknown period", [{"loc": ["body", "period"], "msg": f"{exc}; write it as 2026-27/H1", "type": "value_error"}]
        ) from None
    have = select(Demand.property_id).where(Demand.period == half.period, Demand.local_body_code == local_body_code)
    props = list(
        session.scalars(
            select(Property)
            .where(Property.local_body_code == local_body_code, Property.is_active.is_(True), Property.id.not_in(have))
            .order_by(Property.assessment_number)
        )
    )
    prefix = _prefix(local_body_code, "PT", half.financial_year)
    first = _number_block(session, prefix, len(props)) if props else 0
    for offset, prop in enumerate(props):
        lines = property_tax.half_year_lines(rules, usage=prop.usage, zone=prop.zone, area_sqm=prop.plinth_area_sqm)
        demand = Demand(
            id=new_id(),
            number=f"{prefix}-{first + offset:06d}",
            state_code=body.state_code,
            local_body_code=local_body_code,
            kind="property_tax",
            property_id=prop.id,
            period=half.period,
            payer_id=prop.owner_id,
            description={"en": f"Property tax {half.period}, assessment {prop.assessment_number}"},
            amount=property_tax.total(lines),
            due_date=half.due,
            rebate_until=half.rebate_until,
            rules={k: rules[k] for k in ("rebate_bp", "penalty_bp_per_month", "penalty_max_months") if k in rules},
        )
        session.add(demand)
        _add_lines(session, demand, lines)
    session.flush()
    return len(props)


# -- online payments -----------------------------------------------------------------------------


def _request_hash(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    payment: Payment
    redirect_url: str | None
    replayed: bool


def _may_pay(principal: Principal, demand: Demand) -> bool:
    return demand.payer_id == principal.user_id or principal.may(
        "payments:payment:collect", state_code=demand.state_code, local_body_code=demand.local_body_code
    )


def _by_key(session: Session, principal: Principal, key: str) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.created_by_id == principal.user_id, Payment.idempotency_key == key))


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
    fingerprint = _request_hash(demand=number, method=method)
    if idempotency_key:
        existing = _by_key(session, principal, idempotency_key)
        if existing is not None:
            return _replay(session, existing, fingerprint)
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
        existing = _by_key(session, principal, idempotency_key)  # the same key, sent twice at once
        if existing is None:
            raise
        return _replay(session, existing, fingerprint)
    return Created(payment, order.redirect_url, replayed=False)


def _replay(session: Session, existing: Payment, fingerprint: str) -> Created:
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


def get_payment(session: Session, principal: Principal, payment_id: str) -> Payment:
    payment = session.get(Payment, payment_id)
    if payment is not None:
        demand = session.get(Demand, payment.demand_id)
        if demand is not None and (
            payment.created_by_id == principal.user_id
            or session.scalar(select(Demand.id).where(Demand.id == demand.id, demand_visible(principal))) is not None
        ):
            return payment
    raise NotFound(f"no payment {payment_id!r} that you may see")


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


# -- callbacks, returns and settlement -----------------------------------------------------------


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


def _gateway(session: Session, name: str) -> Gateway:
    gw = gateways_of(runtime_of(session)).get(name)
    if gw is None:
        raise NotFound(f"no payment gateway {name!r} on this node")
    return gw


def handle_callback(session: Session, gateway_name: str, headers: dict[str, str], body: bytes) -> str:
    """Verify and apply one server-to-server callback; every one is recorded, a bad one changes nothing else."""
    gw = _gateway(session, gateway_name)
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
    gw = _gateway(session, gateway_name)
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
    receipt = _receipt(session, payment, demand, kind="payment", amount=payment.amount, lines=lines, day=day, now=now)
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
        _refund(
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
    if demand.application_id:
        _mark_fee_paid(session, demand, receipt, actor_role, payment, now)
    session.flush()
    return receipt


def _mark_fee_paid(session: Session, demand: Demand, receipt: Receipt, actor_role: str, payment: Payment, now: datetime) -> None:
    from nagara.applications.service import service_for
    from nagara.workflow import engine

    app = session.get(Application, demand.application_id, with_for_update=True)
    if app is None or app.fee_paid:
        return
    app.fee_paid = True
    service = service_for(session, app)
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


def _receipt(
    session: Session,
    payment: Payment,
    demand: Demand,
    *,
    kind: str,
    amount: int,
    lines: list[dict[str, Any]],
    day: date,
    now: datetime,
    refund_id: str | None = None,
) -> Receipt:
    fy = property_tax.financial_year(day)
    receipt = Receipt(
        number=_next(session, _prefix(demand.local_body_code, "R" if kind == "payment" else "RF", fy)),
        kind=kind,
        local_body_code=demand.local_body_code,
        financial_year=fy,
        payment_id=payment.id,
        demand_id=demand.id,
        refund_id=refund_id,
        amount=amount,
        lines=lines,
        method=payment.method,
        issued_at=now,
        business_date=day,
    )
    session.add(receipt)
    session.flush()
    return receipt


# -- counter payments ----------------------------------------------------------------------------


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
    fingerprint = _request_hash(demand=number, method=method, amount=amount, instrument=instrument)
    if idempotency_key:
        existing = _by_key(session, principal, idempotency_key)
        if existing is not None:
            _replay(session, existing, fingerprint)
            found = session.scalar(select(Receipt).where(Receipt.payment_id == existing.id, Receipt.kind == "payment"))
            if found is not None:
                return found
    demand = get_demand(session, principal, number, for_update=True)
    require(principal, "payments:payment:collect", state_code=demand.state_code, local_body_code=demand.local_body_code)
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


# -- refunds -------------------------------------------------------------------------------------


def refund(session: Session, principal: Principal, payment_id: str, *, amount: int, reason: str) -> Refund:
    payment = get_payment(session, principal, payment_id)
    session.refresh(payment, with_for_update=True)
    require(
        principal,
        "payments:payment:refund",
        state_code=payment.local_body_code.split(".", maxsplit=1)[0],
        local_body_code=payment.local_body_code,
    )
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
    made = _refund(session, payment, demand, amount=amount, reason=reason, kind="requested", by=principal.user_id, now=utcnow())
    demand.paid_amount -= amount
    if demand.paid_amount == 0:
        demand.status = "refunded"
    session.flush()
    return made


def _refund(
    session: Session, payment: Payment, demand: Demand, *, amount: int, reason: str, kind: str, by: str | None, now: datetime
) -> Refund:
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
        made.gateway_refund_id = _gateway(session, payment.gateway).refund(
            session, order_id=payment.gateway_order_id or "", payment_ref=payment.gateway_payment_id, amount=amount, key=made.id
        )
    payment.refunded_amount += amount
    day = local_day(session, demand.state_code, now)
    lines = [{"code": "refund", "head": "refund", "account": "", "name": {"en": reason[:200]}, "amount": amount}]
    receipt = _receipt(session, payment, demand, kind="refund", amount=amount, lines=lines, day=day, now=now, refund_id=made.id)
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


# -- receipts and reports ------------------------------------------------------------------------


def get_receipt(session: Session, principal: Principal, number: str) -> Receipt:
    receipt = session.scalar(
        select(Receipt).join(Demand, Demand.id == Receipt.demand_id).where(Receipt.number == number, demand_visible(principal))
    )
    if receipt is None:
        raise NotFound(f"no receipt {number!r} that you may see")
    return receipt


def receipts_of(session: Session, payment: Payment) -> list[Receipt]:
    return list(
        session.scalars(select(Receipt).where(Receipt.payment_id == payment.id).order_by(Receipt.issued_at, Receipt.number))
    )


def _require_body(principal: Principal, permission: str, local_body_code: str) -> None:
    require(principal, permission, state_code=local_body_code.split(".", maxsplit=1)[0], local_body_code=local_body_code)


def day_report(
    session: Session, principal: Principal, local_body_code: str, day: date, *, clerk_id: str | None = None
) -> dict[str, Any]:
    """The day's collections of the counter: per clerk and per head, and the receipts' sum."""
    if not principal.may(
        "payments:accounts:read", state_code=local_body_code.split(".", maxsplit=1)[0], local_body_code=local_body_code
    ):
        _require_body(principal, "payments:payment:collect", local_body_code)
        clerk_id = principal.user_id  # a clerk without read access sees only their own counter
    query = (
        select(Receipt, Payment)
        .join(Payment, Payment.id == Receipt.payment_id)
        .where(Receipt.local_body_code == local_body_code, Receipt.business_date == day, Payment.channel == "counter")
        .order_by(Receipt.number)
    )
    if clerk_id:
        query = query.where(Payment.collected_by_id == clerk_id)
    clerks: dict[str, dict[str, Any]] = {}
    by_head: dict[str, int] = {}
    receipts_total = 0
    for receipt, payment in session.execute(query).all():
        sign = 1 if receipt.kind == "payment" else -1
        receipts_total += sign * receipt.amount
        row = clerks.setdefault(
            payment.collected_by_id or "",
            {"clerk": payment.collected_by_id, "count": 0, "total": 0, "by_head": {}, "by_method": {}, "receipts": []},
        )
        row["count"] += 1
        row["total"] += sign * receipt.amount
        row["by_method"][payment.method] = row["by_method"].get(payment.method, 0) + sign * receipt.amount
        row["receipts"].append(receipt.number)
        for line in receipt.lines:
            head = line["head"]
            value = sign * (-line["amount"] if head == "rebate" else line["amount"])
            row["by_head"][head] = row["by_head"].get(head, 0) + value
            by_head[head] = by_head.get(head, 0) + value
    names = (
        {str(i): u for i, u in session.execute(select(User.id, User.username).where(User.id.in_(list(clerks)))).all()}
        if clerks
        else {}
    )
    closes = {
        c.clerk_id: c.closed_at
        for c in session.scalars(
            select(DayClose).where(DayClose.local_body_code == local_body_code, DayClose.business_date == day)
        )
    }
    for row in clerks.values():
        row["username"] = names.get(row["clerk"])
        row["closed_at"] = closes.get(row["clerk"])
    return {
        "local_body": local_body_code,
        "date": day,
        "clerks": list(clerks.values()),
        "by_head": by_head,
        "total": sum(r["total"] for r in clerks.values()),
        "receipts_total": receipts_total,
    }


def close_day(session: Session, principal: Principal, local_body_code: str, day: date) -> DayClose:
    _require_body(principal, "payments:payment:collect", local_body_code)
    report = day_report(session, principal, local_body_code, day, clerk_id=principal.user_id)
    mine = next((r for r in report["clerks"] if r["clerk"] == principal.user_id), None)
    closed = DayClose(
        local_body_code=local_body_code,
        business_date=day,
        clerk_id=principal.user_id,
        count=mine["count"] if mine else 0,
        total=mine["total"] if mine else 0,
        by_head=mine["by_head"] if mine else {},
        by_method=mine["by_method"] if mine else {},
    )
    try:
        with session.begin_nested():
            session.add(closed)
            session.flush()
    except IntegrityError:
        raise Conflict(f"you already closed {day.isoformat()}") from None
    return closed


def trial_balance(session: Session, principal: Principal, local_body_code: str, day: date) -> list[accounts.TrialRow]:
    _require_body(principal, "payments:accounts:read", local_body_code)
    return accounts.trial_balance(session, local_body_code, day)


def journal_count(session: Session, local_body_code: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.local_body_code == local_body_code)) or 0
    )


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


def demand_number_of(session: Session, app: Application) -> str:
    return str(session.scalar(select(Demand.number).where(Demand.application_id == app.id)) or "{demand}")


def cancel_for_application(session: Session, app: Application) -> None:
    """The application ended without its fee: its demand is cancelled (a later success is refunded as an excess)."""
    demand = session.scalar(select(Demand).where(Demand.application_id == app.id).with_for_update())
    if demand is not None and demand.status == "due":
        demand.status = "cancelled"


def reopen_for_application(session: Session, app: Application) -> None:
    """An application reopened (an appeal allowed) owes its fee again."""
    demand = session.scalar(select(Demand).where(Demand.application_id == app.id).with_for_update())
    if demand is not None and demand.status == "cancelled":
        demand.status = "due"

"""Payments routes: demands, online and counter payments, gateway callbacks and returns, receipts,
refunds, the counter's day report and close, the trial balance, property tax demands."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

import anyio.to_thread
import segno
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.identity.deps import CurrentPrincipal, DbSession, get_runtime
from nagara.kit.api import API_PREFIX, MAX_OFFSET, json_response
from nagara.kit.db import utcnow
from nagara.kit.errors import NotFound
from nagara.payments import counter, demands, online, receipts, refunds, reports, service
from nagara.payments.demands import pay_page
from nagara.payments.models import Demand, Payment, Property, Receipt, Refund
from nagara.payments.schemas import (
    CallbackOut,
    CounterPaymentIn,
    DayCloseIn,
    DayCloseOut,
    DayReportOut,
    DemandOut,
    PaymentCreate,
    PaymentOut,
    PropertyDemandsIn,
    PropertyDemandsOut,
    ReceiptOut,
    RefundIn,
    RefundOut,
    TrialBalanceOut,
    TrialRowOut,
)

router = APIRouter(prefix=API_PREFIX, tags=["payments"])


async def writing_unit_of_work(request: Request) -> AsyncIterator[Session]:
    """A writing unit of work for a GET: the browser's return from the gateway settles the payment."""
    runtime = get_runtime(request)
    async with runtime.db_slots, runtime.writer_slot(readonly=False):
        with runtime.db.unit_of_work() as session:
            yield session


WritingSession = Annotated[Session, Depends(writing_unit_of_work, scope="function")]


def demand_out(session: Session, demand: Demand) -> DemandOut:
    app_number = session.get(Application, demand.application_id).number if demand.application_id else None  # type: ignore[union-attr]
    prop = session.get(Property, demand.property_id) if demand.property_id else None
    lines = demands.line_dicts(session, demand)
    today = service.local_day(session, demand.state_code, utcnow())
    return _demand_out(demand, lines, app_number, prop.assessment_number if prop else None, today)


def demands_out(session: Session, found: list[Demand]) -> list[DemandOut]:
    """A page of demands in a fixed number of statements whatever it holds: their lines, their
    applications' numbers and their properties' assessment numbers are read once for the page."""
    lines = demands.lines_of(session, [d.id for d in found])
    numbers = demands.application_numbers(session, found)
    assessments = demands.assessment_numbers(session, found)
    now = utcnow()
    days = {code: service.local_day(session, code, now) for code in {d.state_code for d in found}}
    return [
        _demand_out(
            d,
            lines[d.id],
            numbers.get(d.application_id) if d.application_id else None,
            assessments.get(d.property_id) if d.property_id else None,
            days[d.state_code],
        )
        for d in found
    ]


def _demand_out(
    demand: Demand, lines: list[dict[str, Any]], app_number: str | None, assessment: str | None, today: date
) -> DemandOut:
    due, lines_today = demands.amount_due_of(demand, lines, today)
    return DemandOut.model_validate(
        {
            "number": demand.number,
            "kind": demand.kind,
            "local_body": demand.local_body_code,
            "application": app_number,
            "property": assessment,
            "period": demand.period,
            "description": demand.description,
            "amount": demand.amount,
            "due_date": demand.due_date,
            "rebate_until": demand.rebate_until,
            "status": demand.status,
            "paid_amount": demand.paid_amount,
            "paid_at": demand.paid_at,
            "lines": lines,
            "amount_due_today": due if demand.status == "due" else 0,
            "lines_due_today": lines_today if demand.status == "due" else [],
            "pay_page": demands.pay_page_of(demand, app_number),
        }
    )


def payment_out(session: Session, payment: Payment, redirect_url: str | None = None) -> PaymentOut:
    demand = session.get(Demand, payment.demand_id)
    link = online.upi_link(session, payment)
    return PaymentOut.model_validate(
        {
            "id": payment.id,
            "demand": demand.number if demand else "",
            "channel": payment.channel,
            "method": payment.method,
            "gateway": payment.gateway,
            "gateway_order_id": payment.gateway_order_id,
            "amount": payment.amount,
            "lines": payment.lines,
            "status": payment.status,
            "outcome": payment.outcome,
            "redirect_url": redirect_url or service.redirect_url_of(session, payment),
            "upi_link": link if payment.status == "created" else None,
            "upi_qr": f"{API_PREFIX}/payments/{payment.id}/upi-qr" if link and payment.status == "created" else None,
            "created_at": payment.created_at,
            "expires_at": payment.expires_at,
            "settled_at": payment.settled_at,
            "refunded_amount": payment.refunded_amount,
            "receipts": [r.number for r in receipts.receipts_of(session, payment)] if payment.status != "created" else [],
        }
    )


def receipt_out(session: Session, receipt: Receipt) -> ReceiptOut:
    demand = session.get(Demand, receipt.demand_id)
    return ReceiptOut.model_validate(
        {
            "number": receipt.number,
            "kind": receipt.kind,
            "local_body": receipt.local_body_code,
            "financial_year": receipt.financial_year,
            "demand": demand.number if demand else "",
            "payment": receipt.payment_id,
            "amount": receipt.amount,
            "method": receipt.method,
            "lines": receipt.lines,
            "issued_at": receipt.issued_at,
            "business_date": receipt.business_date,
            "pdf": f"{API_PREFIX}/receipts/{receipt.number}/pdf",
        }
    )


def refund_out(made: Refund) -> RefundOut:
    return RefundOut(
        id=made.id,
        payment=made.payment_id,
        amount=made.amount,
        reason=made.reason,
        kind=made.kind,
        status=made.status,
        gateway_refund_id=made.gateway_refund_id,
        created_at=made.created_at,
    )


@router.get("/demands", response_model=list[DemandOut])
def list_demands(
    session: DbSession,
    principal: CurrentPrincipal,
    local_body: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    application: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """A citizen's own demands; for officers, those of their local body. Newest first."""
    found = demands.list_demands(
        session, principal, local_body=local_body, status=status_, application=application, limit=limit, offset=offset
    )
    return json_response(demands_out(session, found))


@router.get("/demands/{number}", response_model=DemandOut)
def get_demand(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """A demand: its heads, due date, status, and what paying it today costs (rebate or penalty included)."""
    return json_response(demand_out(session, demands.get_demand(session, principal, number)))


@router.post("/demands/{number}/payments", status_code=status.HTTP_201_CREATED, response_model=PaymentOut)
def create_payment(
    number: str,
    body: PaymentCreate,
    session: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Open an online payment; go to ``redirect_url`` (the gateway's page) or pay ``upi_link``.

    Send an ``Idempotency-Key``: the same key returns the same payment (200) instead of a second one.
    """
    created = online.create_online_payment(session, principal, number, method=body.method, idempotency_key=idempotency_key)
    code = status.HTTP_200_OK if created.replayed else status.HTTP_201_CREATED
    return json_response(payment_out(session, created.payment, created.redirect_url), code)


@router.post("/demands/{number}/counter-payments", status_code=status.HTTP_201_CREATED, response_model=ReceiptOut)
def counter_payment(
    number: str,
    body: CounterPaymentIn,
    session: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """A counter clerk records cash, a cheque or a DD for exactly the amount due today; returns the receipt."""
    receipt = counter.counter_payment(
        session,
        principal,
        number,
        method=body.method,
        amount=body.amount,
        instrument=body.instrument.model_dump(mode="json") if body.instrument else None,
        idempotency_key=idempotency_key,
    )
    return json_response(receipt_out(session, receipt), status.HTTP_201_CREATED)


@router.get("/payments/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    return json_response(payment_out(session, service.get_payment(session, principal, payment_id)))


@router.get("/payments/{payment_id}/upi-qr", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def upi_qr(payment_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """A dynamic UPI QR code (SVG) for the payment's amount, to scan with any UPI app."""
    payment = service.get_payment(session, principal, payment_id)
    link = online.upi_link(session, payment)
    if link is None or payment.status != "created":
        raise NotFound("this payment has no UPI code (paid, expired, or the local body has no UPI address)")
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=6, border=2, title="UPI")  # a standalone SVG document
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@router.post("/payments/{payment_id}/refunds", status_code=status.HTTP_201_CREATED, response_model=RefundOut)
def refund(payment_id: str, body: RefundIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Refund all or part of a payment (the secretary); through the gateway for online payments."""
    made = refunds.refund(session, principal, payment_id, amount=body.amount, reason=body.reason)
    return json_response(refund_out(made), status.HTTP_201_CREATED)


@router.post("/payments/callback/{gateway}", response_model=CallbackOut)
async def callback(gateway: str, request: Request, session: WritingSession) -> Response:
    """The gateway's server-to-server callback, authenticated by its HMAC signature (not by a user)."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    outcome = await anyio.to_thread.run_sync(online.handle_callback, session, gateway, headers, body)
    return json_response(CallbackOut(outcome=outcome))


@router.get("/payments/return/{gateway}", response_class=RedirectResponse, status_code=303)
def browser_return(gateway: str, request: Request, session: WritingSession) -> Response:
    """The payer's browser back from the gateway: the signature is checked and the gateway asked; then the pay page."""
    payment = online.handle_return(session, gateway, dict(request.query_params))
    if payment is None:
        return RedirectResponse("/?payment=unknown", status_code=303)
    demand = session.get(Demand, payment.demand_id)
    target = pay_page(session, demand) if demand else "/"
    return RedirectResponse(f"{target}?payment={payment.id}", status_code=303)


@router.get("/receipts/{number}", response_model=ReceiptOut)
def get_receipt(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    return json_response(receipt_out(session, receipts.get_receipt(session, principal, number)))


@router.get("/receipts/{number}/pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def receipt_pdf(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    receipt = receipts.get_receipt(session, principal, number)
    return Response(
        receipts.render_pdf(session, receipt),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{receipt.number}.pdf"', "Cache-Control": "private, no-store"},
    )


@router.post("/local-bodies/{code}/property-tax/demands", response_model=PropertyDemandsOut)
def raise_property_demands(code: str, body: PropertyDemandsIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Raise the half-year's property tax demands for every property in the register that has none yet."""
    service.require_body(principal, "payments:demand:raise", code)
    return json_response(PropertyDemandsOut(raised=demands.raise_property_demands(session, code, body.period)))


@router.get("/local-bodies/{code}/counter/day-report", response_model=DayReportOut)
def day_report(
    code: str, session: DbSession, principal: CurrentPrincipal, day: Annotated[date | None, Query(alias="date")] = None
) -> Response:
    """The counter's collections on a day, per clerk and per head, with the receipts' sum."""
    day = day or service.local_day(session, code, utcnow())
    return json_response(DayReportOut.model_validate(reports.day_report(session, principal, code, day)))


@router.post("/local-bodies/{code}/counter/day-close", status_code=status.HTTP_201_CREATED, response_model=DayCloseOut)
def day_close(code: str, body: DayCloseIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Close the caller's counter for the day: the totals are kept, and no more collections that day."""
    day = body.date or service.local_day(session, code, utcnow())
    return json_response(DayCloseOut.model_validate(reports.close_day(session, principal, code, day)), status.HTTP_201_CREATED)


@router.get("/local-bodies/{code}/accounts/trial-balance", response_model=TrialBalanceOut)
def trial_balance(
    code: str, session: DbSession, principal: CurrentPrincipal, day: Annotated[date | None, Query(alias="date")] = None
) -> Response:
    """Each account's debits and credits posted on a day (heads after the National Municipal Accounts Manual)."""
    day = day or service.local_day(session, code, utcnow())
    rows = reports.trial_balance(session, principal, code, day)
    debit, credit = sum(r.debit for r in rows), sum(r.credit for r in rows)
    return json_response(
        TrialBalanceOut(
            local_body=code,
            date=day,
            rows=[TrialRowOut(account=r.account, name=r.name, debit=r.debit, credit=r.credit) for r in rows],
            debit_total=debit,
            credit_total=credit,
            balanced=debit == credit,
        )
    )

"""Payments pages: the citizen's pay page, the receipt, and the counter clerk's counter.

The pages call the same service functions as the API. Paying online sends the browser to the
gateway's page; the gateway sends it back to ``/api/v1/payments/return/...``, which settles and
redirects here with ``?payment=``. UPI shows a QR code and a ``upi://`` link for the amount due.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.identity.models import User
from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Forbidden, Invalid, NotAuthenticated, NotFound, Problem
from nagara.payments import counter, demands, online, receipts, reports, service
from nagara.payments.models import Demand, Payment
from nagara.tenancy import context as tenancy
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, see_other
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)

HEADS = {
    "fee": N_("Fee"),
    "tax": N_("Tax"),
    "cess": N_("Cess"),
    "rebate": N_("Rebate"),
    "penalty": N_("Penalty"),
    "excess": N_("Excess, refunded"),
    "refund": N_("Refund"),
}
METHODS = {
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "dd": N_("Demand draft"),
    "gateway": N_("Online (card, net banking, UPI)"),
    "upi": N_("UPI"),
}
STATUSES = {
    "due": N_("Payable"),
    "paid": N_("Paid"),
    "refunded": N_("Refunded"),
    "created": N_("Waiting for the payment"),
    "succeeded": N_("Paid"),
    "failed": N_("Failed"),
    "expired": N_("Expired"),
}


def _labels() -> dict[str, dict[str, str]]:
    return {
        "heads": {k: _(v) for k, v in HEADS.items()},
        "methods": {k: _(v) for k, v in METHODS.items()},
        "statuses": {k: _(v) for k, v in STATUSES.items()},
    }


def _timezone(session: Session, tenant_code: str) -> str:
    return tenancy.zone_of(session, tenant_code).key


def _signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthenticated("sign in to pay")
    return principal


def _demand_for_application(session: Session, principal: Principal, number: str) -> Demand:
    demand = demands.demand_of_application(session, principal, number)
    if demand is None:
        raise NotFound(_("This application has no fee to pay."))
    return demand


def _pay_context(session: Session, principal: Principal, demand: Demand, payment_id: str | None) -> dict[str, Any]:
    today = service.local_day(session, demand.state_code, utcnow())
    due, lines = demands.amount_due(session, demand, today)
    payment = None
    if payment_id:
        try:
            payment = service.get_payment(session, principal, payment_id)
        except NotFound:
            payment = None
    app = session.get(Application, demand.application_id) if demand.application_id else None
    return {
        "page_title": _("Pay demand %(number)s") % {"number": demand.number},
        "demand": demand,
        "app": app,
        "body": tenancy.body_place(session, demand.local_body_code).body,
        "lines": lines if demand.status == "due" else demands.line_dicts(session, demand),
        "due": due,
        "payment": payment,
        "upi_link": online.upi_link(session, payment) if payment is not None and payment.status == "created" else None,
        "receipts": receipts.payment_receipts(session, demand),
        "attempt_key": str(uuid.uuid4()),
        "timezone": _timezone(session, demand.state_code),
        "errors": {},
        **_labels(),
    }


@router.get("/applications/{number}/pay")
def application_pay_page(
    number: str, request: Request, session: DbSession, principal: PagePrincipal, payment: str = ""
) -> Response:
    who = _signed_in(principal)
    demand = _demand_for_application(session, who, number)
    return render(request, "payments/pay.html", _pay_context(session, who, demand, payment or None))


@router.get("/demands/{number}/pay")
def demand_pay_page(number: str, request: Request, session: DbSession, principal: PagePrincipal, payment: str = "") -> Response:
    who = _signed_in(principal)
    demand = demands.get_demand(session, who, number)
    return render(request, "payments/pay.html", _pay_context(session, who, demand, payment or None))


@router.post("/demands/{number}/pay")
async def start_payment(number: str, request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    who = _signed_in(principal)
    form = await request.form()
    method = form_text(form, "method") or "gateway"
    key = form_text(form, "attempt")[:120] or None
    try:
        with attempt(session):
            created = online.create_online_payment(
                session, who, number, method=method if method in ("gateway", "upi") else "gateway", idempotency_key=key
            )
    except Problem as exc:
        shown = demands.get_demand(session, who, number)
        context = _pay_context(session, who, shown, None)
        context["errors"] = field_errors(exc) if isinstance(exc, Invalid) else {"_": exc.detail}
        return render(request, "payments/pay.html", context, status_code=exc.status)
    paid_for = session.get(Demand, created.payment.demand_id)
    page = demands.pay_page(session, paid_for) if paid_for else "/"
    if method == "upi" or not created.redirect_url:
        return see_other(f"{page}?payment={created.payment.id}")
    return RedirectResponse(created.redirect_url, status_code=303)


@router.get("/receipts/{number}")
def receipt_page(number: str, request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    who = _signed_in(principal)
    receipt = receipts.get_receipt(session, who, number)
    demand = session.get(Demand, receipt.demand_id)
    payment = session.get(Payment, receipt.payment_id)
    context = {
        "page_title": _("Receipt %(number)s") % {"number": receipt.number},
        "receipt": receipt,
        "demand": demand,
        "payment": payment,
        "body": tenancy.body_place(session, receipt.local_body_code).body,
        "clerk": session.get(User, payment.collected_by_id) if payment and payment.collected_by_id else None,
        "timezone": _timezone(session, receipt.local_body_code),
        **_labels(),
    }
    return render(request, "payments/receipt_page.html", context)


# --- the counter ---------------------------------------------------------------------------------


def _clerk(request: Request, principal: Principal | None) -> Principal | RedirectResponse:
    if principal is None or principal.kind != "officer":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/officer/sign-in?next={quote(here, safe='')}", status_code=303)
    return principal


def _counter_context(
    session: Session, principal: Principal, body_code: str, query: str, errors: dict[str, str], values: dict[str, str]
) -> dict[str, Any]:
    today = service.local_day(session, body_code, utcnow())
    demand = demands.find_demand(session, principal, query) if query else None
    due, lines = demands.amount_due(session, demand, today) if demand is not None else (0, [])
    report = reports.day_report(session, principal, body_code, today, clerk_id=principal.user_id)
    mine = next((c for c in report["clerks"] if c["clerk"] == principal.user_id), None)
    return {
        "page_title": _("Counter"),
        "body": tenancy.body_place(session, body_code).body,
        "body_code": body_code,
        "query": query,
        "searched": bool(query),
        "demand": demand,
        "due": due,
        "lines": lines,
        "today": today,
        "mine": mine,
        "errors": errors,
        "values": values,
        "timezone": _timezone(session, body_code),
        **_labels(),
    }


@router.get("/officer/counter")
def counter_page(request: Request, session: DbSession, principal: PagePrincipal, q: str = "", body: str = "") -> Response:
    clerk = _clerk(request, principal)
    if isinstance(clerk, RedirectResponse):
        return clerk
    bodies = counter.counter_bodies(session, clerk)
    if not bodies:
        raise Forbidden(_("The counter is for counter clerks of a local body."))
    body_code = body if body in bodies else bodies[0]
    return render(request, "payments/counter.html", _counter_context(session, clerk, body_code, q, {}, {}))


@router.post("/officer/counter/collect")
async def counter_collect(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    clerk = _clerk(request, principal)
    if isinstance(clerk, RedirectResponse):
        return clerk
    form = await request.form()
    values = {k: form_text(form, k) for k in ("demand", "method", "amount", "instrument_number", "instrument_bank", "body")}
    bodies = counter.counter_bodies(session, clerk)
    body_code = values["body"] if values["body"] in bodies else (bodies[0] if bodies else "")
    errors: dict[str, str] = {}
    amount = service.paise_of_rupees(values["amount"])
    if amount is None:
        amount = 0
        errors["amount"] = _("Write the amount received in rupees, such as 260.00.")
    instrument = (
        {"number": values["instrument_number"], "bank": values["instrument_bank"]}
        if values["method"] in ("cheque", "dd") and values["instrument_number"] and values["instrument_bank"]
        else None
    )
    if not errors:
        try:
            with attempt(session):
                receipt = counter.counter_payment(
                    session,
                    clerk,
                    values["demand"],
                    method=values["method"] if values["method"] in ("cash", "cheque", "dd") else "cash",
                    amount=amount,
                    instrument=instrument,
                    idempotency_key=form_text(form, "attempt")[:120] or None,
                )
        except Invalid as exc:
            errors = {k.replace("instrument", "instrument_number"): v for k, v in field_errors(exc).items()}
        except Problem as exc:
            errors = {"_": exc.detail}
        else:
            return see_other(f"/receipts/{receipt.number}")
    context = _counter_context(session, clerk, body_code, values["demand"], errors, values)
    return render(request, "payments/counter.html", context, status_code=422)


@router.post("/officer/counter/close")
async def counter_close(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    clerk = _clerk(request, principal)
    if isinstance(clerk, RedirectResponse):
        return clerk
    form = await request.form()
    bodies = counter.counter_bodies(session, clerk)
    body_code = form_text(form, "body") if form_text(form, "body") in bodies else (bodies[0] if bodies else "")
    day = service.local_day(session, body_code, utcnow())
    try:
        with attempt(session):
            reports.close_day(session, clerk, body_code, day)
    except Problem as exc:
        context = _counter_context(session, clerk, body_code, "", {"_": exc.detail}, {})
        return render(request, "payments/counter.html", context, status_code=exc.status)
    return see_other(f"/officer/counter?body={body_code}&closed={date.isoformat(day)}")

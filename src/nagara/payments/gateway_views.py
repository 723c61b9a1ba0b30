"""The local gateway's hosted payment page, outside /api/v1 as a provider's page would be.

The payer sees the amount and the local body, and pays (card, net banking or UPI, all simulated)
or cancels. The page then records the outcome in the gateway's own books, queues the signed
server-to-server callback, and sends the browser to the return URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape

from nagara.identity.deps import DbSession
from nagara.kit.errors import NotFound
from nagara.payments.gateways import BadCallback, local_gateway
from nagara.payments.models import LocalGatewayOrder
from nagara.payments.receipts import rupees
from nagara.runtime import runtime_of

router = APIRouter(prefix="/gateway/local", tags=["local gateway"], include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local payment gateway</title></head>
<body><main>
<h1>Local payment gateway</h1>
<p>Development gateway: no real money moves.</p>
<p>Order <code>{order}</code>: pay <strong>{amount}</strong>.</p>
<p>Status: {status}</p>
<form method="post" action="/gateway/local/pay/{order}">
<fieldset><legend>Pay with</legend>
<label><input type="radio" name="method" value="card" checked> Card</label>
<label><input type="radio" name="method" value="netbanking"> Net banking</label>
<label><input type="radio" name="method" value="upi"> UPI</label>
</fieldset>
<button name="outcome" value="paid">Pay {amount}</button>
<button name="outcome" value="failed">Cancel the payment</button>
</form>
</main></body></html>
"""


def _order(session: DbSession, order_id: str) -> LocalGatewayOrder:
    try:
        return local_gateway(runtime_of(session)).order(session, order_id)
    except BadCallback as exc:
        raise NotFound(str(exc)) from None


@router.get("/pay/{order_id}", response_class=HTMLResponse)
def hosted_page(order_id: str, session: DbSession) -> HTMLResponse:
    order = _order(session, order_id)
    return HTMLResponse(PAGE.format(order=escape(order.id), amount=escape(rupees(order.amount)), status=escape(order.status)))


@router.post("/pay/{order_id}")
def complete(
    order_id: str,
    request: Request,
    session: DbSession,
    outcome: Annotated[str, Form()],
    method: Annotated[str, Form()] = "card",
) -> Response:
    if outcome not in ("paid", "failed") or method not in ("card", "netbanking", "upi"):
        return HTMLResponse("outcome must be paid or failed; method card, netbanking or upi", status_code=422)
    _order(session, order_id)
    try:
        target = local_gateway(runtime_of(session)).complete(session, order_id, outcome=outcome, method=method)
    except BadCallback as exc:
        raise NotFound(str(exc)) from None
    return RedirectResponse(target, status_code=303)

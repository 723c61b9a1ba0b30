"""/api/v1/notifications: a person's own messages and preferences; providers' receipts; delivery for administrators."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query, Request, Response

from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.access import require
from nagara.kit.api import API_PREFIX, MAX_OFFSET, json_response
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid
from nagara.notifications import service
from nagara.notifications.schemas import (
    DeliveryOut,
    DeliveryRow,
    InboxOut,
    NotificationOut,
    PreferencesIn,
    PreferencesOut,
    ReadOut,
    ReceiptIn,
    ReceiptOut,
)
from nagara.runtime import runtime_of

router = APIRouter(prefix=API_PREFIX, tags=["notifications"])


@router.get("/notifications", response_model=InboxOut)
def my_notifications(
    session: DbSession,
    principal: CurrentPrincipal,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> InboxOut:
    """The caller's messages in the portal, newest first, and how many are unread."""
    box = service.inbox(session, principal, unread_only=unread, limit=limit, offset=offset)
    return InboxOut(items=[NotificationOut.model_validate(n) for n in box.items], unread=box.unread, total=box.total)


@router.post("/notifications/read", response_model=ReadOut)
def read_all(session: DbSession, principal: CurrentPrincipal) -> Response:
    """Mark every portal message of the caller read."""
    return json_response(ReadOut(changed=service.mark_read(session, principal, None)))


@router.post("/notifications/{message_id}/read", response_model=ReadOut)
def read_one(message_id: Annotated[str, Path(max_length=36)], session: DbSession, principal: CurrentPrincipal) -> Response:
    """Mark one of the caller's portal messages read."""
    return json_response(ReadOut(changed=service.mark_read(session, principal, message_id)))


def _preferences_out(session: DbSession, principal: CurrentPrincipal) -> PreferencesOut:
    pref, user = service.get_preferences(session, principal)
    default = service.CITIZEN_DEFAULT if user.kind == "citizen" else service.OFFICER_DEFAULT
    return PreferencesOut(
        channels=list(pref.channels) if pref else list(default),
        email=service.email_of(session, pref),
        opt_out=bool(pref and pref.opt_out),
        language=user.language,
    )


@router.get("/me/notification-preferences", response_model=PreferencesOut)
def my_preferences(session: DbSession, principal: CurrentPrincipal) -> PreferencesOut:
    """The caller's channels, e-mail address and opt-out (the language is the profile's)."""
    return _preferences_out(session, principal)


@router.put("/me/notification-preferences", response_model=PreferencesOut)
def set_my_preferences(body: PreferencesIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Choose channels (in order; the next is the fallback), an e-mail address, and opt out of what the law does not require."""
    service.set_preferences(session, principal, channels=list(body.channels), email=body.email, opt_out=body.opt_out)
    return json_response(_preferences_out(session, principal))


@router.post("/notifications/receipts/sms", response_model=ReceiptOut)
async def sms_receipt(request: Request, session: DbSession) -> Response:
    """The SMS provider's delivery receipt, signed: ``X-Signature`` is the hex HMAC-SHA256 of the body."""
    body = await request.body()
    signature = request.headers.get("x-signature", "")
    try:
        payload = json.loads(body)
        parsed = ReceiptIn.model_validate(payload)
    except ValueError as exc:
        msg = (
            'the body must be JSON {"id": the provider\'s message id, "status": delivered|failed|undeliverable|expired|rejected}'
        )
        raise Invalid(msg, [{"loc": ["body"], "msg": msg, "type": "value_error"}]) from exc
    runtime = runtime_of(session)
    row = await anyio.to_thread.run_sync(lambda: service.record_receipt(session, runtime, body, signature, parsed.model_dump()))
    return json_response(ReceiptOut(id=row.id, status=row.status))


@router.get("/states/{state}/notifications/delivery", response_model=DeliveryOut)
def delivery(
    state: Annotated[str, Path(max_length=8)],
    session: DbSession,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
) -> DeliveryOut:
    """Delivery per channel and template (event) in the last ``days`` days: counts by status, rate delivered, failures."""
    require(principal, "notifications:delivery:read", state_code=state)
    since = utcnow() - timedelta(days=days)
    rows = [DeliveryRow.model_validate(r) for r in service.delivery(session, state, since)]
    return DeliveryOut(state=state, since=since, rows=rows)

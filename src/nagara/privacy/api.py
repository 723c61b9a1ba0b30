"""The data principal's rights through the API: who read my data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX, MAX_OFFSET, json_response
from nagara.kit.db import utcnow
from nagara.privacy import breaches, consent, service
from nagara.privacy.models import Breach, ConsentRecord
from nagara.privacy.schemas import (
    AccessSeenOut,
    BreachAssessIn,
    BreachIn,
    BreachOut,
    BreachReportIn,
    ConsentCheckOut,
    ConsentIn,
    ConsentOut,
    DueOut,
    ErasureIn,
    ErasureItemOut,
)
from nagara.web.i18n import gettext as _

router = APIRouter(prefix=API_PREFIX, tags=["privacy"])


@router.get("/me/access-log", response_model=list[AccessSeenOut])
def access_log(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[AccessSeenOut]:
    """Who read my personal data: the role, the local body and the purpose of each read, newest first."""
    return [AccessSeenOut(**vars(seen)) for seen in service.access_log(session, principal, limit=limit, offset=offset)]


@router.get("/me/erasure", response_model=list[ErasureItemOut])
def erasure_options(session: DbSession, principal: CurrentPrincipal) -> list[ErasureItemOut]:
    """Each of my applications: whether it can be erased now (a draft) and, if not, why (being decided, or a register entry)."""
    return [ErasureItemOut(**vars(item)) for item in service.erasure_options(session, principal)]


@router.post("/me/erasure", response_model=ErasureItemOut)
def erase(body: ErasureIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Erase a draft of mine at once (answers and documents; its number stays). A decided application is a
    register entry the law keeps, and one being decided is withdrawn first: both are refused with the reason (409)."""
    return json_response(ErasureItemOut(**vars(service.erase_application(session, principal, body.application))))


def consent_out(row: ConsentRecord, check: consent.Verification | None = None) -> ConsentOut:
    return ConsentOut(
        id=row.id,
        purpose=row.purpose,
        purpose_name=_(consent.PURPOSES[row.purpose].name) if row.purpose in consent.PURPOSES else row.purpose,
        fiduciary=row.fiduciary,
        recipient=row.recipient,
        status=consent.status(row),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        given_via=row.given_via,
        withdrawn_at=row.withdrawn_at,
        artefact=row.artefact,
        signed=row.signed,
        sha256=row.sha256,
        withdrawal=row.withdrawal,
        withdrawal_signed=row.withdrawal_signed,
        withdrawal_sha256=row.withdrawal_sha256,
        verified=ConsentCheckOut(**vars(check)) if check else None,
    )


@router.get("/me/consents", response_model=list[ConsentOut])
def my_consents(session: DbSession, principal: CurrentPrincipal) -> list[ConsentOut]:
    """Every consent I gave (where consent, not a legitimate use, is the basis), newest first, with its signed artefact."""
    return [consent_out(row) for row in consent.mine(session, principal)]


@router.post("/me/consents", response_model=ConsentOut, status_code=201)
def give_consent(body: ConsentIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Give consent for a purpose: a signed consent artefact whose hash goes on the public ledger."""
    row = consent.give(session, principal, purpose=body.purpose, days=body.days, fiduciary=body.fiduciary, via="api")
    return json_response(consent_out(row), 201)


@router.get("/me/consents/{consent_id}", response_model=ConsentOut)
def my_consent(consent_id: str, session: DbSession, principal: CurrentPrincipal) -> ConsentOut:
    """One consent, its artefacts checked now: the platform's signatures and the ledger's entries."""
    row = consent.get(session, principal, consent_id)
    return consent_out(row, consent.verify(session, row))


@router.delete("/me/consents/{consent_id}", response_model=ConsentOut)
def withdraw_consent(consent_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Withdraw a consent, effective at once: a signed withdrawal artefact whose hash goes on the ledger."""
    return json_response(consent_out(consent.withdraw(session, principal, consent_id, via="api")))


# --- the breach register (Rule 7): the Data Protection Officer's ---------------------------------------


def breach_out(session: DbSession, row: Breach) -> BreachOut:
    people = breaches.affected(session, row)
    now = utcnow()
    return BreachOut(
        id=row.id,
        state_code=row.state_code,
        local_body_code=row.local_body_code,
        title=row.title,
        description=row.description,
        discovered_at=row.discovered_at,
        occurred_at=row.occurred_at,
        data_categories=row.data_categories,
        people_categories=row.people_categories,
        measures=row.measures,
        consequences=row.consequences,
        safety_steps=row.safety_steps,
        contact=row.contact,
        affected=len(people),
        notified=sum(1 for p in people if p.notified_at is not None),
        board_intimated_at=row.board_intimated_at,
        cert_in_reported_at=row.cert_in_reported_at,
        principals_notified_at=row.principals_notified_at,
        report=row.report,
        report_submitted_at=row.report_submitted_at,
        due=[DueOut(what=d.what, due_at=d.due_at, done_at=d.done_at, overdue=d.overdue(now)) for d in breaches.due(row)],
    )


@router.get("/privacy/breaches", response_model=list[BreachOut])
def breach_register(session: DbSession, principal: CurrentPrincipal) -> list[BreachOut]:
    """The breaches in my jurisdiction, newest first, each with what is due and by when."""
    return [breach_out(session, row) for row in breaches.register(session, principal)]


@router.post("/privacy/breaches", response_model=BreachOut, status_code=201)
def record_breach(body: BreachIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Enter a breach: the Board's detailed report falls due 72 hours after its discovery, CERT-In's report 6 hours after."""
    row = breaches.record(session, principal, **body.model_dump())
    return json_response(breach_out(session, row), 201)


@router.get("/privacy/breaches/{breach_id}", response_model=BreachOut)
def breach(breach_id: str, session: DbSession, principal: CurrentPrincipal) -> BreachOut:
    return breach_out(session, breaches.get(session, principal, breach_id))


@router.post("/privacy/breaches/{breach_id}/assessment", response_model=BreachOut)
def assess_breach(breach_id: str, body: BreachAssessIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Who is affected (by application or person) and what they are to be told."""
    row = breaches.assess(session, principal, breach_id, **body.model_dump())
    return json_response(breach_out(session, row))


@router.post("/privacy/breaches/{breach_id}/notify-people", response_model=BreachOut)
def notify_breach(breach_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Tell every affected person not yet told, in their language (409 until the assessment says what to tell them)."""
    breaches.notify_people(session, principal, breach_id)
    return json_response(breach_out(session, breaches.get(session, principal, breach_id)))


@router.post("/privacy/breaches/{breach_id}/board-intimation", response_model=BreachOut)
def intimate_board(breach_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Record that the Data Protection Board was intimated."""
    return json_response(breach_out(session, breaches.intimate_board(session, principal, breach_id)))


@router.post("/privacy/breaches/{breach_id}/cert-in-report", response_model=BreachOut)
def report_cert_in(breach_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Record that the incident was reported to CERT-In."""
    return json_response(breach_out(session, breaches.report_cert_in(session, principal, breach_id)))


@router.post("/privacy/breaches/{breach_id}/report", response_model=BreachOut)
def submit_report(breach_id: str, body: BreachReportIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The detailed report to the Board with its six items (Rule 7(2)(b)); due 72 hours after discovery."""
    return json_response(breach_out(session, breaches.submit_report(session, principal, breach_id, body.model_dump())))

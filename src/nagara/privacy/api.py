"""The data principal's rights through the API: who read my data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX, MAX_OFFSET, json_response
from nagara.privacy import consent, service
from nagara.privacy.models import ConsentRecord
from nagara.privacy.schemas import AccessSeenOut, ConsentCheckOut, ConsentIn, ConsentOut, ErasureIn, ErasureItemOut
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

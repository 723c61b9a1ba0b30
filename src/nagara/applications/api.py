"""Application routes: apply, track, documents, actions, the officer inbox and search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from nagara.applications import export, service
from nagara.applications.data import unseal_data
from nagara.applications.documents import missing_documents
from nagara.applications.models import Application
from nagara.applications.schemas import (
    ActionIn,
    ActionOut,
    ApplicationCreate,
    ApplicationOut,
    ApplicationSummary,
    BreachOut,
    BulkActionIn,
    BulkActionOut,
    ConsentRequest,
    ConsentSent,
    CorrectionOut,
    DocumentOut,
    DraftUpdate,
    DueBucketOut,
    DueViewOut,
    HistoryOut,
)
from nagara.catalog.definitions import Service
from nagara.catalog.schemas import FeePreviewLine, FeePreviewOut
from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.access import Principal
from nagara.kit.api import API_PREFIX, MAX_CURSOR, MAX_OFFSET, decode_cursor, encode_cursor, json_response, next_link
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid
from nagara.workflow import engine

router = APIRouter(prefix=API_PREFIX, tags=["applications"])
MAX_UPLOAD = 20 * 1024 * 1024


def _language(request: Request) -> str:
    header = request.headers.get("accept-language", "en")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("en", "ml", "kn", "hi"):
            return code
    return "en"


AFTER = "where the page begins: the cursor in the Link header (rel=next) of the page before"


def _bad_cursor() -> Invalid:
    msg = "not a cursor of this list: give the 'after' of the Link header (rel=\"next\") of the page before"
    return Invalid(msg, [{"loc": ["query", "after"], "msg": msg, "type": "value_error"}])


def _after(raw: str | None, offset: int) -> tuple[datetime | None, str] | None:
    """The sort key in a cursor: a time (creation or due; none for work with no due time) and a number."""
    if raw is None:
        return None
    if offset:
        msg = "give either after (a cursor) or offset, not both"
        raise Invalid(msg, [{"loc": ["query", "offset"], "msg": msg, "type": "value_error"}])
    when, number = decode_cursor(raw, 2)
    if number is None:
        raise _bad_cursor()
    if when is None:
        return None, number
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise _bad_cursor() from None
    if moment.tzinfo is None:
        raise _bad_cursor()
    return moment, number


def _summary(app: Application, svc: Service) -> dict[str, object]:
    now = utcnow()
    return {
        "number": app.number,
        "service": app.service_code,
        "local_body": app.local_body_code,
        "state": app.state,
        "state_name": svc.state(app.state).get("name", {"en": app.state}),
        "is_open": app.is_open,
        "outcome": app.outcome,
        "version": app.version,
        "submitted_at": app.submitted_at,
        "state_due_at": app.state_due_at,
        "service_due_at": app.service_due_at,
        "overdue": bool(app.is_open and app.state_due_at and app.state_due_at < now),
        "assigned_role": app.assigned_role,
        "assigned_to": app.assigned_to_id,
    }


def _summaries(session: DbSession, apps: list[Application]) -> list[ApplicationSummary]:
    """A list's rows, their places and service definitions read in one query each (not one per row)."""
    services = service.services_for(session, apps)
    return [ApplicationSummary.model_validate(_summary(a, services[a.id])) for a in apps]


def _full(session: DbSession, app: Application, principal: Principal) -> ApplicationOut:
    svc = service.service_for(session, app)
    now = utcnow()
    clock = engine.Clock.for_application(session, app)
    data = unseal_data(app)
    documents = service.documents(session, app)
    steps = service.history(session, app)
    asked = service.correction(session, app, steps)
    return ApplicationOut.model_validate(
        {
            **_summary(app, svc),
            "data": data,
            "fee_lines": app.fee_lines,
            "fee_total": app.fee_total,
            "fee_paid": app.fee_paid,
            "appeal_level": app.appeal_level,
            "history": [HistoryOut.model_validate(h) for h in steps],
            "correction": CorrectionOut(
                fields=asked.fields, documents=asked.documents, reason=asked.reason, asked_at=asked.asked_at
            )
            if asked
            else None,
            "documents": [DocumentOut.model_validate(d) for d in documents],
            "documents_missing": missing_documents(svc, app, documents, data),
            "breaches": [
                BreachOut(
                    kind=b.kind,
                    state=b.state,
                    due_at=b.due_at,
                    detected_at=b.detected_at,
                    escalated_to=b.escalated_to,
                    compensation_owed=engine.compensation_owed(b, app, clock, now),
                )
                for b in service.breaches(session, app)
            ],
            "actions": [
                ActionOut(code=a["code"], name=a["name"], comment_required=bool(a.get("comment_required")))
                for a in (
                    engine.allowed_actions(svc, app, principal, now)
                    if app.submitted_at
                    else [{"code": "submit", "name": {"en": "Submit"}}]
                    if "applicant" in engine.roles_here(principal, app)
                    else []
                )
            ],
        }
    )


@router.post("/tenants/{tenant}/applications", status_code=status.HTTP_201_CREATED, response_model=ApplicationOut)
def create(tenant: str, body: ApplicationCreate, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Apply (or save a draft) at a local body; an operator applies for a citizen with the citizen's consent code."""
    on_behalf = service.OnBehalf(**body.on_behalf_of.model_dump()) if body.on_behalf_of else None
    app = service.create(
        session,
        principal,
        tenant=tenant,
        service_code=body.service,
        data=body.data,
        submit=body.submit,
        language=_language(request),
        on_behalf=on_behalf,
        ward=body.ward,
    )
    headers = {"Location": f"{API_PREFIX}/applications/{app.number}", "ETag": f'"{app.version}"'}
    return json_response(_full(session, app, principal), status.HTTP_201_CREATED, headers)


@router.post("/tenants/{tenant}/consent-codes", status_code=status.HTTP_201_CREATED, response_model=ConsentSent)
def request_consent(
    tenant: str, body: ConsentRequest, request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Assisted access: text the citizen a consent code for you to apply for this service at this body.

    The code cannot sign anyone in; give it in ``on_behalf_of`` when applying.
    """
    issued = service.request_consent(
        session,
        principal,
        tenant=tenant,
        service_code=body.service,
        mobile=body.mobile,
        ip=request.client.host if request.client else None,
    )
    return json_response(ConsentSent(challenge_id=issued.challenge_id, expires_in=issued.expires_in), status.HTTP_201_CREATED)


@router.get("/applications", response_model=list[ApplicationSummary])
def search(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    number: Annotated[str | None, Query(description="an application number or its beginning")] = None,
    name: Annotated[
        str | None, Query(description="a person's name, or some of its words: each must be a whole word of a name on it")
    ] = None,
    mobile: Annotated[str | None, Query(description="a mobile number: the applicant's, or one on the form")] = None,
    service_code: Annotated[str | None, Query(alias="service")] = None,
    state: str | None = None,
    local_body: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    after: Annotated[str | None, Query(description=AFTER, max_length=MAX_CURSOR)] = None,
) -> Response:
    """A citizen's own applications; for officers, those within their jurisdiction. Newest first.

    ``name`` and ``mobile`` match keyed hashes of the (sealed) form's names and numbers: whole
    words, in any script and case, never a part of one. A full page carries a ``Link`` header
    (``rel="next"``) to the next one.
    """
    f = service.InboxFilter(service=service_code, state=state, local_body=local_body)
    since = _after(after, offset)
    if since is not None and since[0] is None:
        raise _bad_cursor()
    apps = service.search(
        session,
        principal,
        f,
        number=number,
        name=name,
        mobile=mobile,
        limit=limit,
        offset=offset,
        after=since,  # type: ignore[arg-type]
    )
    headers = (
        next_link(request, encode_cursor([apps[-1].created_at.isoformat(), apps[-1].number])) if len(apps) == limit else None
    )
    return json_response(_summaries(session, apps), headers=headers)


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "UTF-8 with a byte-order mark; formulas neutralised"}
}


@router.get("/applications.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
def search_csv(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    number: Annotated[str | None, Query(description="an application number or its beginning")] = None,
    name: Annotated[str | None, Query(description="words of a person's name on it")] = None,
    mobile: Annotated[str | None, Query(description="a mobile number: the applicant's, or one on the form")] = None,
    service_code: Annotated[str | None, Query(alias="service")] = None,
    state: str | None = None,
    local_body: str | None = None,
) -> Response:
    """The search as a spreadsheet (CSV): the same applications as ``GET /applications``, every one
    of them (at most 10,000: more is refused with 422, asking for narrower filters)."""
    f = service.InboxFilter(service=service_code, state=state, local_body=local_body)
    apps = service.search(session, principal, f, number=number, name=name, mobile=mobile, limit=export.MAX_ROWS + 1)
    return export.download(session, principal, apps, "applications", _language(request))


@router.post("/applications/bulk-actions", response_model=BulkActionOut)
def bulk_act(body: BulkActionIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """The same action and comment on several applications, all or none.

    Each application is checked as if acted on alone: its version, the workflow allowing the
    action from its state, your role there, the comment, the guards. If any refuses, nothing
    changes and the problem lists every refused application in ``errors`` (its number, status
    and why); its status is the one they share (412 all stale, 404 none visible) or 409.
    """
    items = [service.BulkItem(i.number, i.version) for i in body.items]
    apps = service.bulk_act(session, principal, items, action=body.action, comment=body.comment)
    out = BulkActionOut(action=body.action, done=len(apps), applications=_summaries(session, apps))
    return json_response(out)


@router.get("/applications/{number}", response_model=ApplicationOut)
def get(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Track an application: where it is, who holds it, its due times and its whole history."""
    app = service.get(session, principal, number)
    return json_response(_full(session, app, principal), headers={"ETag": f'"{app.version}"'})


@router.get("/applications/{number}/fees", response_model=FeePreviewOut)
def fee_preview(number: str, session: DbSession, principal: CurrentPrincipal) -> FeePreviewOut:
    """A draft's fee if it were submitted today: every item, charged or not, and why, in the request's language."""
    app, preview = service.fee_preview(session, principal, number, utcnow())
    return FeePreviewOut(
        number=app.number,
        assessed_on=preview.assessed_on,
        total=preview.total,
        lines=[FeePreviewLine.model_validate(line, from_attributes=True) for line in preview.lines],
    )


@router.patch("/applications/{number}", response_model=ApplicationOut)
def update_draft(number: str, body: DraftUpdate, request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Change the form: a draft freely; while returned for correction, only the fields the office named
    (each change is recorded in the history as keyed hashes). A stale version gets 412."""
    app = service.update_draft(session, principal, number, body.data, body.version, _language(request))
    return json_response(_full(session, app, principal), headers={"ETag": f'"{app.version}"'})


@router.post("/applications/{number}/actions", response_model=ApplicationOut)
def act(number: str, body: ActionIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Take a workflow action. A stale version gets 412; an action the state or your role does not allow, 409 or 403.

    Returning an application for correction may name what to correct in ``correct``; resubmitting it
    checks the whole form and the documents again (422).
    """
    correct = engine.Correct(body.correct.fields, body.correct.documents) if body.correct else None
    app = service.act(session, principal, number, action=body.action, comment=body.comment, version=body.version, correct=correct)
    return json_response(_full(session, app, principal), headers={"ETag": f'"{app.version}"'})


@router.post("/applications/{number}/documents", status_code=status.HTTP_201_CREATED, response_model=DocumentOut)
def upload(
    number: str,
    session: DbSession,
    principal: CurrentPrincipal,
    doc_type: Annotated[str, Form(alias="type", description="the service's document code")],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Attach a document; its type is checked by content and its size against the service's limit.

    A document of the same type already there is replaced (the history keeps the old file's record);
    while returned for correction, the applicant uploads only the documents the office named.
    """
    content = file.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Invalid("file too large", [{"loc": ["body", "file"], "msg": f"at most {MAX_UPLOAD:,} bytes", "type": "too_large"}])
    doc = service.upload(
        session,
        principal,
        number,
        doc_type=doc_type,
        filename=file.filename or "upload",
        declared=file.content_type,
        content=content,
    )
    return json_response(DocumentOut.model_validate(doc), status.HTTP_201_CREATED)


def _version(version: int | None, if_match: str | None) -> int:
    """The version the caller read: ``?version=`` or the ``If-Match`` ETag (``"3"``)."""
    if version is not None:
        return version
    tag = (if_match or "").strip().removeprefix("W/").strip('"')
    if tag.isdigit():
        return int(tag)
    msg = "give the version you read: ?version=N or an If-Match header with the application's ETag"
    raise Invalid("version required", [{"loc": ["query", "version"], "msg": msg, "type": "missing"}])


@router.delete("/applications/{number}/documents/{doc_id}", response_model=ApplicationOut)
def remove_document(
    number: str,
    doc_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    version: Annotated[int | None, Query(description="the application's version you read")] = None,
    if_match: Annotated[str | None, Header(description="the application's ETag, instead of ?version")] = None,
) -> Response:
    """Remove a document: from a draft, or one the office asked to correct while the application is returned."""
    app = service.remove_document(session, principal, number, doc_id, version=_version(version, if_match))
    return json_response(_full(session, app, principal), headers={"ETag": f'"{app.version}"'})


@router.get("/applications/{number}/documents/{doc_id}")
def download(number: str, doc_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    doc, content = service.document_content(session, principal, number, doc_id)
    return Response(
        content,
        media_type=doc.media_type,
        headers={"Content-Disposition": f'inline; filename="{doc.id}"', "Cache-Control": "private, no-store"},
    )


@router.get("/inbox", response_model=list[ApplicationSummary])
def inbox(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    service_code: Annotated[str | None, Query(alias="service")] = None,
    state: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    after: Annotated[str | None, Query(description=AFTER, max_length=MAX_CURSOR)] = None,
) -> Response:
    """The caller's open work and their roles' pools, ordered by due time (overdue first).

    A full page carries a ``Link`` header (``rel="next"``) to the next one.
    """
    f = service.InboxFilter(service=service_code, state=state, due_before=due_before, due_after=due_after, overdue=overdue)
    since = _after(after, offset)
    work = service.inbox(session, principal, f, limit=limit, offset=offset, after=since)
    headers = None
    if len(work) == limit:
        last = work[-1]
        headers = next_link(request, encode_cursor([last.state_due_at.isoformat() if last.state_due_at else None, last.number]))
    return json_response(_summaries(session, work), headers=headers)


@router.get("/inbox.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
def inbox_csv(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    service_code: Annotated[str | None, Query(alias="service")] = None,
    state: str | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    overdue: bool | None = None,
) -> Response:
    """The inbox as a spreadsheet (CSV): the same work as ``GET /inbox``, every item of it, in its order
    (at most 10,000: more is refused with 422, asking for narrower filters)."""
    f = service.InboxFilter(service=service_code, state=state, due_before=due_before, due_after=due_after, overdue=overdue)
    work = service.inbox(session, principal, f, limit=export.MAX_ROWS + 1)
    return export.download(session, principal, work, "inbox", _language(request))


@router.get("/inbox/falls-due", response_model=DueViewOut)
def falls_due(
    session: DbSession,
    principal: CurrentPrincipal,
    service_code: Annotated[str | None, Query(alias="service")] = None,
    local_body: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """What falls due in your jurisdiction: overdue, today, tomorrow and the rest of the week.

    Days are office days in the state's time zone; work with the applicant is left out.
    """
    view = service.falls_due(session, principal, service=service_code, local_body=local_body, limit=limit)
    services = service.services_for(session, [a for name in service.DUE_BUCKETS for a in view.buckets[name]])
    out = DueViewOut(
        today=view.windows.today.isoformat(),
        timezone=view.windows.zone,
        buckets=[
            DueBucketOut(
                name=name,
                starts=view.windows.bounds[name][0],
                ends=view.windows.bounds[name][1],
                count=view.counts[name],
                applications=[ApplicationSummary.model_validate(_summary(a, services[a.id])) for a in view.buckets[name]],
            )
            for name in service.DUE_BUCKETS
        ],
    )
    return json_response(out)

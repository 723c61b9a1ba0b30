"""Application operations: create (own or assisted), drafts, submit, act, documents, track, inbox, search."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import False_

from nagara.applications import search as search_index
from nagara.applications.data import seal_data, unseal_data
from nagara.applications.documents import check_upload, missing_documents, required_codes
from nagara.applications.models import Application, Document
from nagara.audit import access
from nagara.catalog import fees
from nagara.catalog import service as catalog
from nagara.catalog.definitions import APPLICANT, DRAFT, STAY, SUBMIT, Service
from nagara.catalog.forms import form_errors
from nagara.identity import service as identity
from nagara.kit import numbers
from nagara.kit.access import Principal, require, require_any, scope
from nagara.kit.db import memo, new_id, starts_with, utcnow
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from nagara.kit.text import strip_bidi, strip_bidi_in
from nagara.runtime import runtime_of
from nagara.tenancy import context as tenancy
from nagara.tenancy.context import zone_of
from nagara.tenancy.models import State, Ward
from nagara.web.i18n import N_, current_language, gettext
from nagara.worker.registry import enqueue
from nagara.workflow import engine
from nagara.workflow.models import Breach, HistoryEntry


def _number(session: Session, service: Service, local_body_code: str, now: datetime) -> str:
    return numbers.next_number(session, local_body_code, service.definition["short"], now.year)


def _validate_form(service: Service, data: Any, language: str, *, complete: bool) -> None:
    strip_bidi_in(data)  # in place: what is stored, signed and printed is the visible text
    schema = service.definition["form"]["schema"]
    if not complete:  # a draft may leave required fields empty, but what is there must be valid
        schema = {k: v for k, v in schema.items() if k not in ("required", "if", "then", "else", "allOf")}
    errors = form_errors(schema, data, language)
    if errors:
        raise Invalid(f"{len(errors)} field(s) of the form are invalid", errors)


# The consent SMS, in the operator's page language; every translation starts with the code.
CONSENT_SMS = N_(
    "%(code)s is your consent code: give it to the operator only if you asked them to apply for "
    "%(service)s at %(body)s on your behalf. It expires in %(minutes)s minutes."
)


@dataclass(frozen=True)
class OnBehalf:
    """An operator applying for a citizen, who consents with the code sent to their phone."""

    mobile: str
    challenge_id: str
    code: str


def request_consent(
    session: Session, principal: Principal, *, tenant: str, service_code: str, mobile: str, ip: str | None
) -> identity.OtpIssued:
    """Send the citizen a code that is their consent to this operator applying for this service here.

    The SMS says who asks and for what, so that a citizen never hands over a sign-in code;
    the code is valid only for this operator, local body and service (see :func:`create`).
    """
    service = catalog.get_service(session, tenant, service_code)
    state, body = catalog.resolve_tenant(session, tenant)
    if body is None:
        msg = f"{tenant!r} is a state; ask for consent at one of its local bodies, such as '{tenant}.tvm-corp'"
        raise Invalid(msg, [{"loc": ["path", "tenant"], "msg": msg, "type": "value_error"}])
    require(principal, "identity:citizen:assist", state_code=state.code, local_body_code=body.code)
    language = current_language()
    message = gettext(CONSENT_SMS) % {
        "code": "{code}",
        "service": service.definition["name"].get(language) or service.definition["name"]["en"],
        "body": body.name.get(language) or body.name["en"],
        "minutes": "{minutes}",
    }
    consent = identity.Consent(principal.user_id, body.code, service.code, message)
    return identity.request_otp(session, state_code=state.code, mobile=mobile, ip=ip, consent=consent)


def create(
    session: Session,
    principal: Principal,
    *,
    tenant: str,
    service_code: str,
    data: dict[str, Any],
    submit: bool,
    language: str = "en",
    on_behalf: OnBehalf | None = None,
    ward: int | None = None,
) -> Application:
    service = catalog.get_service(session, tenant, service_code)
    state, body = catalog.resolve_tenant(session, tenant)
    if body is None:
        raise Invalid(
            "apply to a local body",
            [
                {
                    "loc": ["path", "tenant"],
                    "msg": f"{tenant!r} is a state; apply to one of its local bodies, such as '{tenant}.tvm-corp'",
                    "type": "value_error",
                }
            ],
        )
    now = utcnow()
    if on_behalf is None:
        require(principal, "applications:application:create", owner_id=principal.user_id)
        if principal.kind != "citizen":
            raise Forbidden("officers apply on a citizen's behalf: give on_behalf_of with the citizen's consent code")
        applicant_id = principal.user_id
        consent_at = None
    else:
        require(principal, "identity:citizen:assist", state_code=state.code, local_body_code=body.code)
        require(principal, "applications:application:create", state_code=state.code, local_body_code=body.code)
        citizen = identity.verify_otp(
            session,
            state_code=state.code,
            challenge_id=on_behalf.challenge_id,
            mobile=on_behalf.mobile,
            code=on_behalf.code,
            consent=identity.Consent(principal.user_id, body.code, service.code),
        )
        applicant_id = citizen.id
        consent_at = now
    _validate_form(service, data, language, complete=submit)
    ward_code = None
    if ward is not None:
        ward_row = session.scalar(select(Ward).where(Ward.local_body_code == body.code, Ward.number == ward))
        if ward_row is None:
            raise Invalid(
                "unknown ward", [{"loc": ["body", "ward"], "msg": f"{body.code} has no ward {ward}", "type": "value_error"}]
            )
        ward_code = ward_row.code
    app = Application(
        id=new_id(),
        number=_number(session, service, body.code, now),
        state_code=state.code,
        local_body_code=body.code,
        ward_code=ward_code,
        service_code=service.code,
        service_version_id=service.version_id,
        applicant_id=applicant_id,
        filed_by_id=principal.user_id,
        consent_at=consent_at,
        state=DRAFT,
        is_open=True,
        assigned_role=APPLICANT,
        state_entered_at=now,
        fee_lines=[],
        created_at=now,
        updated_at=now,
    )
    seal_data(session, app, data)
    session.add(app)
    memo(session).setdefault(NEW_CASES, {})[app.id] = []  # the documents uploaded to it in this unit of work
    if submit:
        # Created just now: no documents yet, and the form was checked as complete above.
        _submit(session, service, app, principal, data, now, docs=[], form_checked=True)
    session.flush()
    return app


def _submit(
    session: Session,
    service: Service,
    app: Application,
    principal: Principal,
    data: dict[str, Any],
    now: datetime,
    *,
    docs: list[Document] | None = None,
    form_checked: bool = False,
) -> None:
    if not form_checked:
        _validate_form(service, data, "en", complete=True)
    if docs is None:
        docs = documents(session, app) if required_codes(service, data, now.date()) else []
    missing = missing_documents(service, app, docs, data)
    if missing:
        raise Invalid(
            "documents missing",
            [
                {"loc": ["body", "documents", code], "msg": f"upload the {code!r} document before submitting", "type": "missing"}
                for code in missing
            ],
        )
    engine.submit(session, service, app, principal=principal, data=data, now=now)


READ = "applications:application:read"


def visible(principal: Principal) -> ColumnElement[bool]:
    """Applications the principal may read: their own, those they filed for a citizen where they
    still assist, or those within an officer's jurisdiction. Access comes from the roles held
    now: having filed an application once grants nothing (``engine.acts_as_applicant``).

    The clause names only what can match, so that an index serves each part: applicants are
    always citizens (officers apply on a citizen's behalf), and a grant that may read
    applications where it assists reaches those filed there through the jurisdiction already.
    """
    clauses: list[ColumnElement[bool]] = []
    if principal.kind == "citizen":
        clauses.append(Application.applicant_id == principal.user_id)
    assisting = scope(
        principal,
        engine.ASSIST,
        state_col=Application.state_code,
        local_body_col=Application.local_body_code,
        ward_col=Application.ward_code,
        unless=READ,
    )
    if not isinstance(assisting, False_):
        clauses.append((Application.filed_by_id == principal.user_id) & assisting)
    reading = jurisdiction(principal)
    if not isinstance(reading, False_):
        clauses.append(reading)
    return or_(*clauses) if clauses else false()


def filed_here(principal: Principal) -> ColumnElement[bool]:
    """Applications the principal filed for a citizen at a place where they hold the assisting permission now."""
    return (Application.filed_by_id == principal.user_id) & scope(
        principal,
        engine.ASSIST,
        state_col=Application.state_code,
        local_body_col=Application.local_body_code,
        ward_col=Application.ward_code,
    )


def jurisdiction(principal: Principal) -> ColumnElement[bool]:
    """Applications within the places where the principal may read applications (not their own)."""
    return scope(
        principal,
        READ,
        state_col=Application.state_code,
        local_body_col=Application.local_body_code,
        ward_col=Application.ward_code,
    )


def get(session: Session, principal: Principal, number: str, *, for_update: bool = False) -> Application:
    query = (
        select(Application, State.pack_digest)
        .join(State, State.code == Application.state_code)
        .where(Application.number == number, visible(principal))
    )
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound(f"no application {number!r} that you may see")
    app, digest = row
    tenancy.digest_read(session, app.state_code, digest)  # its place needs no read of its own
    note_read(session, principal, app, "application", app.number)
    return app


def first_use(session: Session, applicant_id: str, service_code: str) -> bool:
    """Whether the citizen has never applied for this service (a draft counts): its privacy notice is shown open."""
    query = select(Application.id).where(Application.applicant_id == applicant_id, Application.service_code == service_code)
    return session.scalar(query.limit(1)) is None


def note_reveal(session: Session, principal: Principal, app: Application, item: str, reason: str) -> None:
    """An officer asked to see a masked number of the application, for ``reason``: logged as a reveal."""
    access.record_read(
        session,
        principal,
        subject_id=app.applicant_id,
        state_code=app.state_code,
        local_body_code=app.local_body_code,
        ward_code=app.ward_code,
        record_type="application",
        record_ref=f"{app.number}#{item}",
        purpose=app.service_code,
        action="reveal",
        reason=reason,
    )


def note_read(session: Session, principal: Principal, app: Application, record_type: str, record_ref: str) -> None:
    """Log a read of the applicant's data by someone else (an officer, an operator): the purpose is the service."""
    access.record_read(
        session,
        principal,
        subject_id=app.applicant_id,
        state_code=app.state_code,
        local_body_code=app.local_body_code,
        ward_code=app.ward_code,
        record_type=record_type,
        record_ref=record_ref,
        purpose=app.service_code,
    )


def service_for(session: Session, app: Application) -> Service:
    return catalog.service_of(session, app.service_version_id, app.local_body_code)


def services_for(session: Session, apps: list[Application]) -> dict[str, Service]:
    """Each application's service definition (by application id), in a fixed number of statements for any number."""
    found = catalog.services_of(session, {(a.service_version_id, a.local_body_code) for a in apps})
    return {a.id: found[a.service_version_id, a.local_body_code] for a in apps}


def fee_preview(session: Session, principal: Principal, number: str, now: datetime) -> tuple[Application, fees.Preview]:
    """What a draft would owe if submitted now, item by item with why; a submitted one's fee is already fixed."""
    app = get(session, principal, number)
    if app.submitted_at is not None:
        raise Conflict(
            f"application {number} was submitted and its fee worked out then: "
            f"see fee_lines and fee_total of GET /api/v1/applications/{number}"
        )
    svc = service_for(session, app)
    return app, fees.preview(svc.definition, unseal_data(app), fees.fee_day(session, app.local_body_code, now))


def update_draft(
    session: Session, principal: Principal, number: str, data: dict[str, Any], version: int, language: str = "en"
) -> Application:
    """Change the form (all of it is given): freely while a draft; while returned for correction,
    only the fields the office asked to correct (:func:`correction`), each change kept in the history."""
    app = get(session, principal, number)
    if APPLICANT not in engine.roles_here(principal, app):
        raise Forbidden("only the applicant (or the operator who filed it) may change the form")
    engine.require_version_match(app, version)
    svc = service_for(session, app)
    if app.submitted_at is None:
        _validate_form(svc, data, language, complete=False)
        seal_data(session, app, data)
        session.flush()
        return app
    asked = correction(session, app)
    if asked is None:
        raise Conflict(
            "the application is with the office: the form can be changed only while a draft or returned for correction",
            extra={"current": {"version": app.version, "state": app.state}},
        )
    _validate_form(svc, data, language, complete=False)  # first: it normalises the text compared below
    before = unseal_data(app)
    changed = sorted(k for k in before.keys() | data.keys() if before.get(k, _ABSENT) != data.get(k, _ABSENT))
    not_asked = [k for k in changed if k not in asked.fields]
    if not_asked:
        raise Invalid(
            f"{len(not_asked)} field(s) were not asked to be corrected",
            [
                {
                    "loc": ["body", "data", k],
                    "msg": f"{k!r} was not asked to be corrected; you may change: {', '.join(asked.fields) or 'no field'}",
                    "type": "not_asked",
                }
                for k in not_asked
            ],
        )
    if not changed:
        return app
    cipher = runtime_of(session).cipher

    def digest(name: str, value: Any) -> str | None:  # a keyed hash: the history holds no personal value
        if value is _ABSENT:
            return None
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return cipher.blind_index(text, purpose=f"application-correction:{app.id}:{name}")

    with session.no_autoflush:  # one UPDATE of the application: its version goes up by one
        seal_data(session, app, data)
        engine.record_step(
            session,
            svc,
            app,
            action=FORM_CORRECTED,
            to_state=app.state,
            actor_id=principal.user_id,
            actor_role=APPLICANT,
            comment=None,
            now=utcnow(),
            data={
                "fields": {k: {"old": digest(k, before.get(k, _ABSENT)), "new": digest(k, data.get(k, _ABSENT))} for k in changed}
            },
        )
    session.flush()
    return app


_ABSENT = object()

# The history's own steps of a correction (the packs' actions are the workflow's).
FORM_CORRECTED = "form_corrected"
DOCUMENT_ADDED = "document_added"
DOCUMENT_REPLACED = "document_replaced"
DOCUMENT_REMOVED = "document_removed"
DELETE_FILE = "applications.delete_file"  # the job that removes a replaced or removed file once the change commits


@dataclass(frozen=True)
class Correction:
    """What the office asked the applicant to correct when it returned the application."""

    fields: list[str]
    documents: list[str]
    reason: str | None
    asked_at: datetime


def with_applicant(app: Application) -> bool:
    """Submitted and handed back to the applicant (returned for correction)."""
    return app.is_open and app.submitted_at is not None and app.assigned_role == APPLICANT


def correction(session: Session, app: Application, steps: list[HistoryEntry] | None = None) -> Correction | None:
    """The correction asked for now (None unless the application is with the applicant).

    The return's history entry names the fields and documents (``engine.asked_to_correct``);
    an application returned before returns named them is open to any correction.
    """
    if not with_applicant(app):
        return None
    svc = service_for(session, app)
    for step in reversed(steps if steps is not None else history(session, app)):
        if step.to_state == app.state and step.from_state != step.to_state:
            asked = (step.data or {}).get(engine.CORRECT) or engine.asked_to_correct(svc, None)
            return Correction(list(asked["fields"]), list(asked["documents"]), step.comment, step.at)
    return None


def _file_record(doc: Document) -> dict[str, Any]:
    """What the history keeps of a file: no name (it may be personal), its hash and kind."""
    return {"id": doc.id, "sha256": doc.sha256, "size": doc.size, "media_type": doc.media_type}


def _drop(session: Session, app: Application, doc: Document) -> None:
    session.delete(doc)
    if _created_here(session, app):
        memo(session)[NEW_CASES][app.id].remove(doc)
    enqueue(session, DELETE_FILE, {"storage_key": doc.storage_key})


def _not_asked(doc_type: str, asked: Correction, loc: list[str | int]) -> Invalid:
    msg = (
        f"the document {doc_type!r} was not asked to be corrected; you may replace: {', '.join(asked.documents) or 'no document'}"
    )
    return Invalid("document not asked for", [{"loc": loc, "msg": msg, "type": "not_asked"}])


def act(
    session: Session,
    principal: Principal,
    number: str,
    *,
    action: str,
    comment: str | None,
    version: int,
    correct: engine.Correct | None = None,
) -> Application:
    comment = strip_bidi(comment) if comment is not None else None
    app = get(session, principal, number)
    now = utcnow()
    service = service_for(session, app)
    if action == SUBMIT:
        if APPLICANT not in engine.roles_here(principal, app):
            raise Forbidden("only the applicant (or the operator who filed it) may submit")
        engine.require_version_match(app, version)
        engine.conflict_if_not_draft(app)
        _submit(session, service, app, principal, unseal_data(app), now)
        return app
    if with_applicant(app) and engine.acts_as_applicant(principal, app):
        engine.require_version_match(app, version)
        _check_resubmission(session, service, app, action, now)
    engine.take_action(
        session,
        service,
        app,
        principal=principal,
        action_code=action,
        comment=comment,
        expected_version=version,
        now=now,
        correct=correct,
    )
    return app


def _check_resubmission(session: Session, service: Service, app: Application, action: str, now: datetime) -> None:
    """An action that sends a returned application back to the office checks the whole form and documents again."""
    found = next((a for a in engine.possible_actions(service, app, now) if a["code"] == action), None)
    if found is None or found.get("to", STAY) == STAY:
        return
    target = service.state(found["to"])
    if target.get("final") or target.get("role") == APPLICANT:
        return
    data = unseal_data(app)
    _validate_form(service, data, current_language(), complete=True)
    missing = missing_documents(service, app, documents(session, app), data)
    if missing:
        raise Invalid(
            "documents missing",
            [
                {
                    "loc": ["body", "documents", code],
                    "msg": f"upload the {code!r} document before resubmitting",
                    "type": "missing",
                }
                for code in missing
            ],
        )


def upload(
    session: Session, principal: Principal, number: str, *, doc_type: str, filename: str, declared: str | None, content: bytes
) -> Document:
    """Attach a document; one of the same type already there is replaced (the history keeps its record).

    While the application is returned for correction the applicant uploads only the documents
    the office asked for.
    """
    app = get(session, principal, number)
    roles = engine.roles_here(principal, app)
    applicant_turn = APPLICANT in roles and app.assigned_role == APPLICANT and app.is_open
    clerk = app.is_open and principal.may(
        "applications:application:act", state_code=app.state_code, local_body_code=app.local_body_code
    )
    if not (applicant_turn or clerk):
        raise Forbidden(
            "documents are added by the applicant while the application is with them, or by an officer of the local body"
        )
    svc = service_for(session, app)
    media_type, digest = check_upload(svc, doc_type, filename, declared, content)
    app = _locked(session, app)
    as_applicant = applicant_turn and not clerk
    if as_applicant and app.submitted_at is not None:
        asked = correction(session, app)
        if asked is not None and doc_type not in asked.documents:
            raise _not_asked(doc_type, asked, ["body", "type"])
    doc = Document(
        id=new_id(),
        application_id=app.id,
        doc_type=doc_type,
        filename=filename[:255],
        media_type=media_type,
        size=len(content),
        sha256=digest,
        storage_key="",
        uploaded_by_id=principal.user_id,
    )
    doc.storage_key = f"{app.local_body_code}/{app.number}/{doc.id}"
    with session.no_autoflush:
        replaced = [d for d in documents(session, app) if d.doc_type == doc_type]
        runtime_of(session).files.put(doc.storage_key, content)
        for old in replaced:
            _drop(session, app, old)
        session.add(doc)
        if _created_here(session, app):
            memo(session)[NEW_CASES][app.id].append(doc)
        if app.submitted_at is not None:
            engine.record_step(
                session,
                svc,
                app,
                action=DOCUMENT_REPLACED if replaced else DOCUMENT_ADDED,
                to_state=app.state,
                actor_id=principal.user_id,
                actor_role=APPLICANT if as_applicant else _officer_role(principal, app),
                comment=None,
                now=utcnow(),
                data={"type": doc_type, "old": [_file_record(d) for d in replaced], "new": _file_record(doc)},
            )
    session.flush()
    return doc


def _locked(session: Session, app: Application) -> Application:
    """The application again, under its row lock: its documents change one request at a time, so
    parallel uploads of one type leave one document (SQLite writes one transaction at a time anyway)."""
    if _created_here(session, app):
        return app  # inserted by this unit of work: nobody else sees it
    session.execute(select(Application.id).where(Application.id == app.id).with_for_update())
    session.expire(app)  # read again under the lock: what a request that held it before changed
    return app


def _officer_role(principal: Principal, app: Application) -> str:
    """The role an officer adds a document in: the one holding the application if theirs, else one of theirs here."""
    roles = engine.roles_here(principal, app) - {APPLICANT}
    if app.assigned_role in roles:
        return str(app.assigned_role)
    return min(roles) if roles else "officer"


def remove_document(session: Session, principal: Principal, number: str, doc_id: str, *, version: int) -> Application:
    """The applicant removes a document from a draft, or one the office asked to correct while it is returned."""
    app = _locked(session, get(session, principal, number))
    doc = session.scalar(select(Document).where(Document.id == doc_id, Document.application_id == app.id))
    if doc is None:
        raise NotFound("no such document on this application")
    if APPLICANT not in engine.roles_here(principal, app):
        raise Forbidden("only the applicant (or the operator who filed it) may remove a document")
    engine.require_version_match(app, version)
    if app.submitted_at is None:
        with session.no_autoflush:
            _drop(session, app, doc)
        session.flush()
        return app
    asked = correction(session, app)
    if asked is None:
        raise Conflict(
            "documents are removed only from a draft, or while the application is returned for correction",
            extra={"current": {"version": app.version, "state": app.state}},
        )
    if doc.doc_type not in asked.documents:
        raise _not_asked(doc.doc_type, asked, ["path", "doc_id"])
    svc = service_for(session, app)
    with session.no_autoflush:
        _drop(session, app, doc)
        engine.record_step(
            session,
            svc,
            app,
            action=DOCUMENT_REMOVED,
            to_state=app.state,
            actor_id=principal.user_id,
            actor_role=APPLICANT,
            comment=None,
            now=utcnow(),
            data={"type": doc.doc_type, "old": [_file_record(doc)]},
        )
    session.flush()
    return app


def document_content(session: Session, principal: Principal, number: str, doc_id: str) -> tuple[Document, bytes]:
    app = get(session, principal, number)
    doc = session.scalar(select(Document).where(Document.id == doc_id, Document.application_id == app.id))
    if doc is None:
        raise NotFound("no such document on this application")
    note_read(session, principal, app, "document", f"{app.number}/{doc.doc_type}")
    return doc, runtime_of(session).files.get(doc.storage_key)


NEW_CASES = "nagara.applications.new"  # the applications created in this unit of work, by id


def _created_here(session: Session, app: Application) -> bool:
    return app.id in memo(session).get(NEW_CASES, ())


def history(session: Session, app: Application) -> list[HistoryEntry]:
    if _created_here(session, app):  # its whole history was written in this unit of work: no query
        return engine.written_steps(session, app)
    return list(session.scalars(select(HistoryEntry).where(HistoryEntry.application_id == app.id).order_by(HistoryEntry.seq)))


def documents(session: Session, app: Application) -> list[Document]:
    if _created_here(session, app):  # all its documents were uploaded in this unit of work
        return list(memo(session)[NEW_CASES][app.id])
    return list(session.scalars(select(Document).where(Document.application_id == app.id).order_by(Document.uploaded_at)))


def breaches(session: Session, app: Application) -> list[Breach]:
    if app.breach_count == 0:  # most applications never breach a limit: no query for them
        return []
    return list(session.scalars(select(Breach).where(Breach.application_id == app.id).order_by(Breach.detected_at)))


@dataclass(frozen=True)
class InboxFilter:
    service: str | None = None
    state: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    local_body: str | None = None


def _holder_clause(principal: Principal) -> ColumnElement[bool]:
    """Work held by a role the principal holds, where they hold it, assigned to them or to the role's pool."""
    return scope(
        principal,
        ("applications:application:read", "applications:appeal:decide"),
        state_col=Application.state_code,
        local_body_col=Application.local_body_code,
        ward_col=Application.ward_code,
        role_col=Application.assigned_role,
        assignee_col=Application.assigned_to_id,
    )


def _filtered(query: Any, f: InboxFilter, now: datetime) -> Any:
    if f.service:
        query = query.where(Application.service_code == f.service)
    if f.state:
        query = query.where(Application.state == f.state)
    if f.due_before:
        query = query.where(Application.state_due_at <= f.due_before)
    if f.due_after:
        query = query.where(Application.state_due_at >= f.due_after)
    if f.overdue is True:
        query = query.where(Application.state_due_at < now)
    elif f.overdue is False:
        query = query.where(or_(Application.state_due_at.is_(None), Application.state_due_at >= now))
    if f.local_body:
        query = query.where(Application.local_body_code == f.local_body)
    return query


def inbox(
    session: Session,
    principal: Principal,
    f: InboxFilter,
    *,
    limit: int = 100,
    offset: int = 0,
    after: tuple[datetime | None, str] | None = None,
) -> list[Application]:
    """Open work for the caller, the most urgent first (due time, none last; then number).

    ``after``: the (due time, number) of the last item of the page before (keyset pagination).
    """
    require_any(principal, "applications:application:read")
    now = utcnow()
    query = select(Application).where(
        Application.is_open.is_(True), Application.submitted_at.is_not(None), _holder_clause(principal)
    )
    if after is not None:
        due, number = after
        later: ColumnElement[bool] = Application.state_due_at.is_(None) & (Application.number > number)
        if due is not None:
            later = or_(
                Application.state_due_at > due,
                (Application.state_due_at == due) & (Application.number > number),
                Application.state_due_at.is_(None),
            )
        query = query.where(later)
    query = _filtered(query, f, now).order_by(Application.state_due_at.asc().nulls_last(), Application.number)
    return list(session.scalars(query.limit(limit).offset(offset)))


def search(
    session: Session,
    principal: Principal,
    f: InboxFilter,
    *,
    number: str | None = None,
    name: str | None = None,
    mobile: str | None = None,
    limit: int = 100,
    offset: int = 0,
    after: tuple[datetime, str] | None = None,
) -> list[Application]:
    """Applications within the caller's jurisdiction (officers) or their own (citizens), newest first.

    ``number`` finds those whose number begins with it (case aside). ``name`` finds those with
    every word of it among the names on them, ``mobile`` those of that number (the applicant's,
    or one on the form): by keyed hashes, as the form is sealed (``search.py``). ``after``: the
    (creation time, number) of the last item of the page before (keyset pagination).
    """
    now = utcnow()
    query = select(Application).where(visible(principal))
    if number:
        query = query.where(starts_with(session, Application.number, number.upper()))
    if name is not None or mobile is not None:
        query = query.where(
            search_index.found_by(search_index.query_digests(runtime_of(session).cipher, name=name, mobile=mobile))
        )
    if after is not None:
        created, last = after
        query = query.where(
            or_(Application.created_at < created, (Application.created_at == created) & (Application.number > last))
        )
    query = _filtered(query, f, now).order_by(Application.created_at.desc(), Application.number)
    return list(session.scalars(query.limit(limit).offset(offset)))


# --- the daily view of what falls due -------------------------------------------

DUE_BUCKETS = ("overdue", "today", "tomorrow", "this_week")


@dataclass(frozen=True)
class DueWindows:
    """The bounds of each bucket, in UTC, for the office day ``today`` in the state's time zone.

    ``overdue``: the step's time limit has passed; ``today``: it passes later today;
    ``tomorrow``: during tomorrow; ``this_week``: during the five days after tomorrow
    (so the view always looks one week ahead, whatever the weekday).
    """

    today: date
    zone: str
    bounds: dict[str, tuple[datetime | None, datetime]]


def due_windows(session: Session, principal: Principal, now: datetime) -> DueWindows:
    zone = zone_of(session, principal.state_code)
    today = now.astimezone(zone).date()

    def start_of(days: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(0), zone).astimezone(UTC)

    bounds: dict[str, tuple[datetime | None, datetime]] = {
        "overdue": (None, now),
        "today": (now, start_of(1)),
        "tomorrow": (start_of(1), start_of(2)),
        "this_week": (start_of(2), start_of(7)),
    }
    return DueWindows(today, zone.key, bounds)


@dataclass(frozen=True)
class DueView:
    windows: DueWindows
    counts: dict[str, int]
    buckets: dict[str, list[Application]]


def falls_due(
    session: Session,
    principal: Principal,
    *,
    service: str | None = None,
    local_body: str | None = None,
    now: datetime | None = None,
    limit: int = 50,
) -> DueView:
    """Open work with the office in the caller's jurisdiction whose step falls due: overdue, today,
    tomorrow, later this week. Work with the applicant (returned for correction) is theirs to do
    and is left out. Each bucket lists at most ``limit`` applications, the most urgent first,
    and counts them all."""
    require_any(principal, "applications:application:read")
    now = now or utcnow()
    windows = due_windows(session, principal, now)
    base = [
        Application.is_open.is_(True),
        Application.submitted_at.is_not(None),
        Application.state_due_at.is_not(None),
        or_(Application.assigned_role.is_(None), Application.assigned_role != APPLICANT),
        jurisdiction(principal),
    ]
    if service:
        base.append(Application.service_code == service)
    if local_body:
        base.append(Application.local_body_code == local_body)
    due = Application.state_due_at
    bucket = case(*((due < windows.bounds[name][1], name) for name in DUE_BUCKETS[:-1]), else_=DUE_BUCKETS[-1])
    # One pass over the open work due within the week: each row's bucket, its rank in it and the bucket's size.
    ranked = (
        select(
            Application.id.label("id"),
            bucket.label("bucket"),
            func.row_number().over(partition_by=bucket, order_by=(due, Application.number)).label("rank"),
            func.count().over(partition_by=bucket).label("total"),
        )
        .where(*base, due < windows.bounds[DUE_BUCKETS[-1]][1])
        .subquery()
    )
    rows = session.execute(
        select(Application, ranked.c.bucket, ranked.c.total)
        .join(ranked, ranked.c.id == Application.id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.bucket, ranked.c.rank)
    )
    counts: dict[str, int] = dict.fromkeys(DUE_BUCKETS, 0)
    buckets: dict[str, list[Application]] = {name: [] for name in DUE_BUCKETS}
    for app, name, total in rows:
        counts[name] = int(total)
        buckets[name].append(app)
    return DueView(windows, counts, buckets)


# --- bulk actions ----------------------------------------------------------------

MAX_BULK = 100


@dataclass(frozen=True)
class BulkItem:
    number: str
    version: int


class BulkRefused(Problem):
    """Some of a bulk action's applications refused it; the whole action was rolled back."""

    status = 409
    type_slug = "bulk-action-refused"
    title = "The action was refused for some applications; nothing was changed"


def bulk_act(
    session: Session, principal: Principal, items: list[BulkItem], *, action: str, comment: str | None
) -> list[Application]:
    """The same action, with one comment, on several applications: all of them or none.

    Each application is checked as if acted on alone (its own version, the workflow
    allowing ``action`` from its state, the caller's role there, the comment, the
    guards). Every application is tried, so the refusal lists each one that failed
    and why; then, if any failed, nothing is kept (the unit of work rolls back).
    The refusal's status is the one its items share (all stale: 412, none visible:
    404), or 409 when they differ.
    """
    require_any(principal, "applications:application:read")
    errors: list[dict[str, Any]] = []
    if not items:
        errors.append({"loc": ["body", "items"], "msg": "choose at least one application", "type": "missing"})
    if len(items) > MAX_BULK:
        errors.append({"loc": ["body", "items"], "msg": f"at most {MAX_BULK} applications at once", "type": "too_long"})
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.number in seen:
            errors.append({"loc": ["body", "items", i, "number"], "msg": f"{item.number} is listed twice", "type": "duplicate"})
        seen.add(item.number)
    if action in (SUBMIT, DRAFT):
        errors.append({"loc": ["body", "action"], "msg": "submitting is done one application at a time", "type": "value_error"})
    if errors:
        raise Invalid(f"{len(errors)} field(s) are invalid", errors)
    done: list[Application] = []
    refused: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            done.append(act(session, principal, item.number, action=action, comment=comment, version=item.version))
        except Problem as exc:
            refused.append(
                {
                    "loc": ["body", "items", i],
                    "number": item.number,
                    "status": exc.status,
                    "type": exc.type_slug,
                    "msg": exc.detail,
                }
            )
    if refused:
        statuses = {r["status"] for r in refused}
        problem = BulkRefused(
            f"{len(refused)} of {len(items)} application(s) refused {action!r}: "
            + "; ".join(f"{r['number']}: {r['msg']}" for r in refused),
            extra={"errors": refused, "refused": len(refused), "total": len(items)},
        )
        if len(statuses) == 1:
            problem.status = statuses.pop()
        raise problem
    return done


def sweep_due(session: Session, now: datetime | None = None) -> dict[str, int]:
    return engine.sweep(session, now or utcnow(), Application, service_for)

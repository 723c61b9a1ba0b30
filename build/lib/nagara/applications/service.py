"""Application operations: create (own or assisted), drafts, submit, act, documents, track, inbox, search."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session

from nagara.applications.documents import check_upload, missing_documents
from nagara.applications.models import Application, Document, NumberCounter
from nagara.catalog import service as catalog
from nagara.catalog.definitions import APPLICANT, DRAFT, SUBMIT, Service
from nagara.catalog.forms import form_errors
from nagara.identity import service as identity
from nagara.identity.access import Principal, require, require_any
from nagara.kit.db import insert_ignoring_conflict, new_id, utcnow
from nagara.kit.errors import Forbidden, Invalid, NotFound
from nagara.runtime import runtime_of
from nagara.workflow import engine
from nagara.workflow.models import Breach, HistoryEntry


def _runtime_of_app(app: Application) -> Any:
    session = object_session(app)
    if session is None:
        raise RuntimeError("application is detached")
    return runtime_of(session)


def unseal_data(app: Application) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_runtime_of_app(app).cipher.decrypt(app.data_sealed, context=f"application:{app.id}"))
    return data


def _seal(session: Session, app: Application, data: dict[str, Any]) -> None:
    app.data_sealed = runtime_of(session).cipher.encrypt(json.dumps(data, ensure_ascii=False), context=f"application:{app.id}")


def next_number(session: Session, prefix: str) -> int:
    """The next number for ``prefix``.

    On PostgreSQL it is taken in a short transaction of its own, so concurrent
    submissions do not queue behind each other's whole transaction on the
    counter's row lock (bench/applications.py went from 13 to ... a second);
    a rolled-back submission leaves a gap in the numbers, as paper registers do.
    On SQLite every write transaction is already exclusive, so it stays inside.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        engine = bind.engine if isinstance(bind, Connection) else bind
        with engine.begin() as conn:
            return _bump(conn, prefix)
    return _bump(session.connection(), prefix)


def _bump(conn: Connection, prefix: str) -> int:
    insert_ignoring_conflict(conn, NumberCounter.__table__, {"prefix": prefix, "last": 0})
    bump = update(NumberCounter).where(NumberCounter.prefix == prefix).values(last=NumberCounter.last + 1)
    return int(conn.execute(bump.returning(NumberCounter.last)).scalar_one())


def _number(session: Session, service: Service, local_body_code: str, now: datetime) -> str:
    state, body = local_body_code.split(".", 1)
    prefix = f"{state.upper()}-{body.replace('-', '').upper()[:10]}-{service.definition['short']}-{now.year}"
    return f"{prefix}-{next_number(session, prefix):06d}"


def _validate_form(service: Service, data: Any, language: str, *, complete: bool) -> None:
    schema = service.definition["form"]["schema"]
    if not complete:  # a draft may leave required fields empty, but what is there must be valid
        schema = {k: v for k, v in schema.items() if k not in ("required", "if", "then", "else", "allOf")}
    errors = form_errors(schema, data, language)
    if errors:
        raise Invalid(f"{len(errors)} field(s) of the form are invalid", errors)


@dataclass(frozen=True)
class OnBehalf:
    """An operator applying for a citizen, who consents with the code sent to their phone."""

    mobile: str
    challenge_id: str
    code: str


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
            session, state_code=state.code, challenge_id=on_behalf.challenge_id, mobile=on_behalf.mobile, code=on_behalf.code
        )
        applicant_id = citizen.id
        consent_at = now
    _validate_form(service, data, language, complete=submit)
    ward_code = None
    if ward is not None:
        from nagara.tenancy.models import Ward

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
    )
    _seal(session, app, data)
    session.add(app)
    session.flush()
    if submit:
        _submit(session, service, app, principal, data, now)
    return app


def _submit(
    session: Session, service: Service, app: Application, principal: Principal, data: dict[str, Any], now: datetime
) -> None:
    _validate_form(service, data, "en", complete=True)
    docs = list(session.scalars(select(Document).where(Document.application_id == app.id)))
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


def visible(principal: Principal) -> ColumnElement[bool]:
    """Applications the principal may read: their own, or within an officer's jurisdiction."""
    clauses: list[ColumnElement[bool]] = [
        Application.applicant_id == principal.user_id,
        Application.filed_by_id == principal.user_id,
    ]
    for g in principal.grants:
        if "applications:application:read" not in g.permissions or g.scope == "self":
            continue
        clause = Application.state_code == g.state_code
        if g.scope != "state" and g.local_body_code:
            clause = clause & (Application.local_body_code == g.local_body_code)
        if g.ward_code:
            clause = clause & (Application.ward_code == g.ward_code)
        clauses.append(clause)
    return or_(*clauses)


def get(session: Session, principal: Principal, number: str, *, for_update: bool = False) -> Application:
    query = select(Application).where(Application.number == number, visible(principal))
    app = session.scalar(query)
    if app is None:
        raise NotFound(f"no application {number!r} that you may see")
    return app


def service_for(session: Session, app: Application) -> Service:
    return catalog.service_of(session, app.service_version_id, app.local_body_code)


def update_draft(
    session: Session, principal: Principal, number: str, data: dict[str, Any], version: int, language: str = "en"
) -> Application:
    app = get(session, principal, number)
    if APPLICANT not in engine.roles_here(principal, app):
        raise Forbidden("only the applicant (or the operator who filed it) may change a draft")
    engine.require_version_match(app, version)
    engine.conflict_if_not_draft(app)
    _validate_form(service_for(session, app), data, language, complete=False)
    _seal(session, app, data)
    session.flush()
    return app


def act(session: Session, principal: Principal, number: str, *, action: str, comment: str | None, version: int) -> Application:
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
    engine.take_action(
        session, service, app, principal=principal, action_code=action, comment=comment, expected_version=version, now=now
    )
    return app


def upload(
    session: Session, principal: Principal, number: str, *, doc_type: str, filename: str, declared: str | None, content: bytes
) -> Document:
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
    media_type, digest = check_upload(service_for(session, app), doc_type, filename, declared, content)
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
    runtime_of(session).files.put(doc.storage_key, content)
    session.add(doc)
    session.flush()
    return doc


def document_content(session: Session, principal: Principal, number: str, doc_id: str) -> tuple[Document, bytes]:
    app = get(session, principal, number)
    doc = session.scalar(select(Document).where(Document.id == doc_id, Document.application_id == app.id))
    if doc is None:
        raise NotFound("no such document on this application")
    return doc, runtime_of(session).files.get(doc.storage_key)


def history(session: Session, app: Application) -> list[HistoryEntry]:
    return list(session.scalars(select(HistoryEntry).where(HistoryEntry.application_id == app.id).order_by(HistoryEntry.seq)))


def documents(session: Session, app: Application) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.application_id == app.id).order_by(Document.uploaded_at)))


def breaches(session: Session, app: Application) -> list[Breach]:
    return list(session.scalars(select(Breach).where(Breach.application_id == app.id).order_by(Breach.detected_at)))


@dataclass(frozen=True)
class InboxFilter:
    service: str | None = None
    state: str | None = None
    due_before: datetime | None = None
    overdue: bool | None = None
    local_body: str | None = None


def _holder_clause(principal: Principal) -> ColumnElement[bool]:
    """Work held by the principal or by a pool of a role they hold where they hold it."""
    clauses: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if g.scope == "self" or (
            "applications:application:read" not in g.permissions and "applications:appeal:decide" not in g.permissions
        ):
            continue
        clause = (Application.assigned_role == g.role) & (Application.state_code == g.state_code)
        if g.scope != "state" and g.local_body_code:
            clause = clause & (Application.local_body_code == g.local_body_code)
        clause = clause & or_(Application.assigned_to_id.is_(None), Application.assigned_to_id == principal.user_id)
        clauses.append(clause)
    return or_(*clauses) if clauses else false()


def _filtered(query: Any, f: InboxFilter, now: datetime) -> Any:
    if f.service:
        query = query.where(Application.service_code == f.service)
    if f.state:
        query = query.where(Application.state == f.state)
    if f.due_before:
        query = query.where(Application.state_due_at <= f.due_before)
    if f.overdue is True:
        query = query.where(Application.state_due_at < now)
    elif f.overdue is False:
        query = query.where(or_(Application.state_due_at.is_(None), Application.state_due_at >= now))
    if f.local_body:
        query = query.where(Application.local_body_code == f.local_body)
    return query


def inbox(session: Session, principal: Principal, f: InboxFilter, *, limit: int = 100, offset: int = 0) -> list[Application]:
    """Open work for the caller, the most urgent first."""
    require_any(principal, "applications:application:read")
    now = utcnow()
    query = select(Application).where(
        Application.is_open.is_(True), Application.submitted_at.is_not(None), _holder_clause(principal)
    )
    query = _filtered(query, f, now).order_by(Application.state_due_at.asc().nulls_last(), Application.number)
    return list(session.scalars(query.limit(limit).offset(offset)))


def search(
    session: Session, principal: Principal, f: InboxFilter, *, number: str | None = None, limit: int = 100, offset: int = 0
) -> list[Application]:
    """Applications within the caller's jurisdiction (officers) or their own (citizens), newest first."""
    now = utcnow()
    query = select(Application).where(visible(principal))
    if number:
        query = query.where(Application.number.startswith(number.upper(), autoescape=True))
    query = _filtered(query, f, now).order_by(Application.created_at.desc(), Application.number)
    return list(session.scalars(query.limit(limit).offset(offset)))


def sweep_due(session: Session, now: datetime | None = None) -> dict[str, int]:
    return engine.sweep(session, now or utcnow(), service_for)

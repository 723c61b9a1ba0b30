"""Documents attached to an application: checked by content, stored in the file store."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.data import unseal_data
from nagara.applications.models import Application, Document, as_application
from nagara.catalog.definitions import Service
from nagara.catalog.rules import all_hold
from nagara.kit.access import Principal
from nagara.kit.errors import Invalid
from nagara.kit.files import sniff_media_type
from nagara.workflow.models import Case


def document_rules(service: Service) -> dict[str, dict[str, Any]]:
    return {d["code"]: d for d in service.definition.get("documents", [])}


def required_codes(service: Service, data: dict[str, Any], today: date) -> list[str]:
    return [
        d["code"]
        for d in service.definition.get("documents", [])
        if d.get("required") or (d.get("required_if") and all_hold(d["required_if"], data, today))
    ]


def missing_documents(service: Service, app: Application, docs: list[Document], data: dict[str, Any] | None = None) -> list[str]:
    if data is None:
        data = unseal_data(app)
    have = {d.doc_type for d in docs}
    return [code for code in required_codes(service, data, (app.submitted_at or app.created_at).date()) if code not in have]


def check_upload(service: Service, doc_type: str, filename: str, declared: str | None, content: bytes) -> tuple[str, str]:
    """Return (media type by content, sha256) or raise a 422 that says what is allowed."""
    rules = document_rules(service)
    if doc_type not in rules:
        raise Invalid(
            "unknown document type",
            [
                {
                    "loc": ["body", "type"],
                    "msg": f"{doc_type!r} is not a document of this service; expected one of: {', '.join(rules) or 'none'}",
                    "type": "enum",
                }
            ],
        )
    rule = rules[doc_type]
    if not content:
        raise Invalid("empty file", [{"loc": ["body", "file"], "msg": "the file is empty", "type": "value_error"}])
    if len(content) > rule["max_bytes"]:
        raise Invalid(
            "file too large",
            [
                {
                    "loc": ["body", "file"],
                    "msg": f"the file is {len(content):,} bytes; at most {rule['max_bytes']:,} bytes are allowed",
                    "type": "too_large",
                }
            ],
        )
    actual = sniff_media_type(content)
    if actual is None or actual not in rule["media_types"]:
        what = f"its content is {actual}" if actual else "its content is not a recognised file type"
        named = f" (it is named {filename!r}{f' and declared as {declared}' if declared else ''})"
        raise Invalid(
            "wrong file type",
            [{"loc": ["body", "file"], "msg": f"{what}{named}; allowed: {', '.join(rule['media_types'])}", "type": "media_type"}],
        )
    return actual, hashlib.sha256(content).hexdigest()


# --- the workflow's guards and effects about documents (registered in nagara/domains.py) -------


def _documents(session: Session, app: Application) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.application_id == app.id)))


def guard_documents_complete(session: Session, service: Service, case: Case) -> list[str]:
    app = as_application(case)
    missing = missing_documents(service, app, _documents(session, app))
    return [f"required documents missing: {', '.join(missing)}"] if missing else []


def guard_documents_verified(session: Session, service: Service, case: Case) -> list[str]:
    app = as_application(case)
    docs = _documents(session, app)
    missing = missing_documents(service, app, docs)
    reasons = [f"required documents missing: {', '.join(missing)}"] if missing else []
    if any(d.verified_at is None for d in docs):
        reasons.append("documents are not yet verified")
    return reasons


def effect_verify_documents(session: Session, service: Service, case: Case, principal: Principal, now: datetime) -> None:
    """The officer's action vouches for every document not yet verified (each change audited)."""
    for doc in session.scalars(select(Document).where(Document.application_id == case.id, Document.verified_at.is_(None))):
        doc.verified_at = now
        doc.verified_by_id = principal.user_id

"""Retention: what has outlived its period is erased, what the law keeps is never touched.

The periods are the record classes of ``catalog.notices`` (the notices say them):
- documents uploaded to an application are erased ``DOCUMENTS_KEPT_DAYS`` after its decision
  (rows now, files after commit through the ``applications.delete_file`` job);
- a draft never submitted is emptied ``DRAFTS_KEPT_DAYS`` after its last change: its answers
  (and so its search terms) and documents go, its number stays (registers have no gaps);
- register entries (the form of a decided application, its history, certificates, receipts,
  the ledger) are never erased by this job.
Each run is one unit of work and writes an audit event with its counts, the erasure report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.data import seal_data, unseal_data
from nagara.applications.models import Application, Document
from nagara.applications.service import DELETE_FILE
from nagara.audit import service as audit
from nagara.catalog.definitions import DRAFT
from nagara.catalog.notices import DOCUMENTS_KEPT_DAYS, DRAFTS_KEPT_DAYS
from nagara.kit.db import utcnow
from nagara.worker.registry import enqueue

BATCH = 500


@dataclass(frozen=True)
class ErasureReport:
    at: datetime
    documents_erased: int
    drafts_emptied: int


def empty_draft(session: Session, app: Application) -> bool:
    """Erase a draft's answers (and search terms) and documents; its number stays. False if it was empty."""
    docs = list(session.scalars(select(Document).where(Document.application_id == app.id)))
    if not docs and not unseal_data(app):
        return False
    for doc in docs:
        session.delete(doc)
        enqueue(session, DELETE_FILE, {"storage_key": doc.storage_key})
    seal_data(session, app, {})
    return True


def erase_expired(session: Session, now: datetime | None = None) -> ErasureReport:
    """Erase what has outlived its retention period at ``now``; records the report in the audit log."""
    now = now or utcnow()
    documents = 0
    decided_before = now - timedelta(days=DOCUMENTS_KEPT_DAYS)
    expired_documents = (
        select(Document)
        .join(Application, Application.id == Document.application_id)
        .where(Application.is_open.is_(False), Application.decided_at.is_not(None), Application.decided_at < decided_before)
        .limit(BATCH)
    )
    while batch := list(session.scalars(expired_documents)):
        for doc in batch:
            session.delete(doc)
            enqueue(session, DELETE_FILE, {"storage_key": doc.storage_key})
        documents += len(batch)
        session.flush()

    drafts = 0
    changed_before = now - timedelta(days=DRAFTS_KEPT_DAYS)
    stale = (
        select(Application).where(Application.state == DRAFT, Application.updated_at < changed_before).order_by(Application.id)
    )
    for app in session.scalars(stale).all():
        if empty_draft(session, app):
            drafts += 1
    session.flush()
    report = ErasureReport(at=now, documents_erased=documents, drafts_emptied=drafts)
    audit.record(
        session,
        "privacy.erasure",
        data={"documents_erased": documents, "drafts_emptied": drafts, "at": now.isoformat()},
    )
    return report

"""Retention with the clock moved forward: expired documents and stale drafts go, registers stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from nagara.applications.data import unseal_data
from nagara.applications.models import Application, Document
from nagara.audit.models import AuditEvent
from nagara.catalog.notices import DOCUMENTS_KEPT_DAYS, DRAFTS_KEPT_DAYS
from nagara.kit.db import utcnow
from nagara.privacy import tasks
from nagara.privacy.retention import erase_expired
from nagara.runtime import Runtime
from nagara.worker.registry import SCHEDULES
from nagara.worker.runner import Worker
from tests.applications.helpers import apply, birth_form, upload
from tests.certificates.helpers import approved_birth, certificate
from tests.conftest import People


def _app(runtime: Runtime, number: str) -> tuple[dict[str, object], list[str]]:
    with runtime.db.unit_of_work(readonly=True) as s:
        app = s.scalar(select(Application).where(Application.number == number))
        assert app is not None
        keys = list(s.scalars(select(Document.storage_key).where(Document.application_id == app.id)))
        return unseal_data(app), keys


def _erase(runtime: Runtime, days: int) -> tuple[int, int]:
    with runtime.db.unit_of_work() as s:
        report = erase_expired(s, utcnow() + timedelta(days=days))
    Worker(runtime.db).run_until_idle()  # the files go after the commit
    return report.documents_erased, report.drafts_emptied


def test_expired_documents_and_stale_drafts_go_and_registers_stay(client: TestClient, people: People, runtime: Runtime) -> None:
    approved = approved_birth(client, people)["number"]
    stale = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    upload(client, people, "citizen1", stale, "birth-report")
    fresh = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    with runtime.db.unit_of_work() as s:
        long_ago = utcnow() - timedelta(days=DRAFTS_KEPT_DAYS + 5)
        s.execute(update(Application).where(Application.number == stale).values(updated_at=long_ago))
    register_form, register_files = _app(runtime, approved)
    _, stale_files = _app(runtime, stale)
    assert len(register_files) == 2 and len(stale_files) == 1

    assert _erase(runtime, 1) == (0, 1)  # only the draft untouched for over a year
    data, files = _app(runtime, stale)
    assert data == {} and files == []
    with pytest.raises(FileNotFoundError):
        runtime.files.get(stale_files[0])
    assert _app(runtime, fresh)[0] == birth_form()
    assert _app(runtime, approved) == (register_form, register_files)  # decided a day ago: all kept

    assert _erase(runtime, DOCUMENTS_KEPT_DAYS + 2) == (2, 1)  # the documents of the decision; the fresh draft is stale by then
    data, files = _app(runtime, approved)
    assert data == register_form and files == []  # the register entry stays, its supporting documents go
    for key in register_files:
        with pytest.raises(FileNotFoundError):
            runtime.files.get(key)
    assert certificate(client, people, "citizen1", approved)["number"]  # the certificate is a register: kept

    assert _erase(runtime, DOCUMENTS_KEPT_DAYS + 2) == (0, 0)  # nothing twice
    with runtime.db.unit_of_work(readonly=True) as s:
        reports = list(s.scalars(select(AuditEvent.data).where(AuditEvent.action == "privacy.erasure").order_by(AuditEvent.at)))
    assert [(r["documents_erased"], r["drafts_emptied"]) for r in reports] == [(0, 1), (2, 1), (0, 0)]


def test_the_erasure_runs_every_day() -> None:
    assert SCHEDULES[tasks.ERASE].every_seconds == 24 * 3600

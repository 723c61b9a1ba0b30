"""Job handlers used by the worker tests (imported by the tests and by their child processes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nagara.audit import service as audit
from nagara.audit.models import AuditEvent
from nagara.worker.registry import task


def handled_count(session: Session, key: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.handled", AuditEvent.entity_id == key)
        )
        or 0
    )


@task("test.record")
def record(session: Session, payload: dict[str, Any]) -> None:
    """Idempotent: records the key once however often it runs."""
    crash_flag = payload.get("crash_once")
    if crash_flag and not Path(crash_flag).exists():
        Path(crash_flag).write_text("crashed")
        os._exit(9)  # the process dies mid-job, before its transaction commits
    if payload.get("fail"):
        raise RuntimeError("handler failed on purpose")
    if handled_count(session, payload["key"]) == 0:
        audit.record(session, "test.handled", entity_type="test", entity_id=payload["key"])


@task("test.single", single_runner=True)
def single(session: Session, payload: dict[str, Any]) -> None:
    audit.record(session, "test.handled", entity_type="test", entity_id=payload["key"])

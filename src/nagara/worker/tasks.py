"""Housekeeping of the outbox itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from nagara.kit import limits
from nagara.kit.db import utcnow
from nagara.worker.models import Job
from nagara.worker.registry import every, task

KEEP_DONE = timedelta(days=1)


@task("worker.prune")
def prune(session: Session, payload: dict[str, Any]) -> None:
    """Delete jobs finished more than a day ago (schedules alone add a row per run), and old limit counters."""
    session.execute(delete(Job).where(Job.status == "done", Job.finished_at < utcnow() - KEEP_DONE))
    limits.prune(session)


every(3600, "worker.prune")

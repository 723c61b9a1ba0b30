"""Notification jobs: the history scanner, one send per message, the officers' digest, housekeeping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from nagara.kit.db import utcnow
from nagara.notifications import service
from nagara.notifications.models import StepSeen
from nagara.worker.registry import enqueue, every, task

SCAN_EVERY_SECONDS = 2


@task("notifications.scan", single_runner=True)
def scan(session: Session, payload: dict[str, Any]) -> None:
    """Messages for the steps written since the last scan; at once again while a full batch came back."""
    if service.scan(session) >= service.SCAN_BATCH:
        enqueue(session, "notifications.scan", {}, dedupe_key=f"notifications.scan:more:{utcnow().isoformat()}", max_attempts=1)


@task("notifications.send")
def send(session: Session, payload: dict[str, Any]) -> None:
    service.send(session, str(payload["id"]))


@task("notifications.digest", single_runner=True)
def digest(session: Session, payload: dict[str, Any]) -> None:
    """The officers' daily digest (hourly: each state's goes once its morning has come)."""
    service.daily_digest(session)


@task("notifications.prune")
def prune(session: Session, payload: dict[str, Any]) -> None:
    """Forget the steps seen more than a day ago: the scanner never looks that far back."""
    session.execute(delete(StepSeen).where(StepSeen.seen_at < utcnow() - max(timedelta(days=1), 10 * service.SCAN_LAG)))


every(SCAN_EVERY_SECONDS, "notifications.scan")
every(3600, "notifications.prune")
every(3600, "notifications.digest")

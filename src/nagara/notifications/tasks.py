"""Notification jobs: one send per message, the officers' digest (the step and breach jobs are service.py's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.notifications import service
from nagara.worker.registry import every, task


@task("notifications.send")
def send(session: Session, payload: dict[str, Any]) -> None:
    service.send(session, str(payload["id"]))


@task("notifications.digest", single_runner=True)
def digest(session: Session, payload: dict[str, Any]) -> None:
    """The officers' daily digest (hourly: each state's goes once its morning has come)."""
    service.daily_digest(session)


every(3600, "notifications.digest")

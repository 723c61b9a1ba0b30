"""The scheduled sweep that escalates applications whose time limit has passed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.applications.service import sweep_due
from nagara.worker.registry import every, task


@task("workflow.sweep", single_runner=True)  # the job's name predates this module; queued jobs keep it
def sweep(session: Session, payload: dict[str, Any]) -> None:
    sweep_due(session)


every(60, "workflow.sweep")

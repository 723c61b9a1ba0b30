"""The scheduled sweep that escalates applications whose time limit has passed; removing replaced files."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.applications.service import DELETE_FILE, sweep_due
from nagara.runtime import runtime_of
from nagara.worker.registry import every, task


@task("workflow.sweep", single_runner=True)  # the job's name predates this module; queued jobs keep it
def sweep(session: Session, payload: dict[str, Any]) -> None:
    sweep_due(session)


every(60, "workflow.sweep")


@task(DELETE_FILE)
def delete_file(session: Session, payload: dict[str, Any]) -> None:
    """A replaced or removed document's file, once the change committed (deleting twice is harmless)."""
    runtime_of(session).files.delete(payload["storage_key"])

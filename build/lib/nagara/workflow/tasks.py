"""The scheduled sweep that escalates work whose time limit has passed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.worker.registry import every, task


@task("workflow.sweep", single_runner=True)
def sweep(session: Session, payload: dict[str, Any]) -> None:
    from nagara.applications.service import sweep_due

    sweep_due(session)


every(60, "workflow.sweep")

"""The fold: every few seconds, the cases the ledger's newest entries name are folded into the rollups."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.analytics import rollups
from nagara.worker.registry import enqueue, every, task


@task("analytics.fold", single_runner=True)
def fold(session: Session, payload: dict[str, Any]) -> None:
    """Fold what the ledger integrated since the last run; commits with the job. More waiting: run again at once."""
    result = rollups.fold(session)
    if result.more:
        enqueue(session, "analytics.fold", {}, dedupe_key=f"analytics.fold:after:{result.position}", max_attempts=1)


every(5, "analytics.fold")

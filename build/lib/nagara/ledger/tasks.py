"""Ledger jobs: the integrator (one at a time, every second) and the witness submitter."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from nagara.kit.db import after_commit
from nagara.ledger import integrator, witness
from nagara.ledger.keys import LedgerMisconfigured
from nagara.runtime import runtime_of
from nagara.worker.registry import enqueue, every, task

log = logging.getLogger("nagara.ledger")


@task("ledger.integrate", single_runner=True)
def integrate(session: Session, payload: dict[str, Any]) -> None:
    """Integrate pending entries and sign a checkpoint; commits with the job.

    A run stops at ``NAGARA_LEDGER_RUN_SECONDS`` (so SQLite's write lock is not held
    long, and a checkpoint appears at least that often); if entries are still
    pending it queues the next run at once instead of waiting for the next second.
    """
    settings = runtime_of(session).settings
    try:
        result = integrator.integrate(session, settings)
    except LedgerMisconfigured as exc:
        log.error("ledger: not integrating: %s", exc)  # noqa: TRY400 - a settings problem, not a crash
        return
    if result.more:
        enqueue(session, "ledger.integrate", {}, dedupe_key=f"ledger.integrate:after:{result.size}", max_attempts=1)


@task("ledger.witness")
def submit_to_witnesses(session: Session, payload: dict[str, Any]) -> None:
    """After this job commits, submit the newest checkpoint to the configured witnesses (no lock held meanwhile)."""
    runtime = runtime_of(session)

    def submit() -> None:
        witness.submit_all(runtime)

    if runtime.settings.ledger_witnesses:
        after_commit(session, submit)


every(1, "ledger.integrate")
every(1, "ledger.witness")

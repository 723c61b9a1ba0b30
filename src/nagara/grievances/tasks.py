"""The scheduled sweep of grievances: levels whose time passed go one level up; resolutions the
citizen did not answer close when their window passes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.grievances.service import sweep as sweep_grievances
from nagara.kit.db import utcnow
from nagara.worker.registry import every, task


@task("grievances.sweep", single_runner=True)
def sweep(session: Session, payload: dict[str, Any]) -> None:
    sweep_grievances(session, utcnow())


every(60, "grievances.sweep")

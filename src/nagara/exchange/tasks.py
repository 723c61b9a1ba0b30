"""Exchange jobs: forget request nonces that can no longer come back inside the clock window."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.exchange import service
from nagara.worker.registry import every, task


@task("exchange.forget_nonces")
def forget_nonces(session: Session, payload: dict[str, Any]) -> None:
    service.forget_old_nonces(session)


every(600, "exchange.forget_nonces")

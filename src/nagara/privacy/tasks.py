"""The daily erasure of what has outlived its retention period."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.privacy.retention import erase_expired
from nagara.worker.registry import every, task

ERASE = "privacy.erase_expired"


@task(ERASE, single_runner=True)
def erase(session: Session, payload: dict[str, Any]) -> None:
    erase_expired(session)


every(24 * 3600, ERASE)

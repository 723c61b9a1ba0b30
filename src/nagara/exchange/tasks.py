"""Exchange jobs: forget old request nonces; tell a sending node what was decided about its transfer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nagara.exchange import moves, service
from nagara.worker.registry import every, task


@task("exchange.forget_nonces")
def forget_nonces(session: Session, payload: dict[str, Any]) -> None:
    service.forget_old_nonces(session)


every(600, "exchange.forget_nonces")


@task("exchange.tell_decision")
def tell_decision(session: Session, payload: dict[str, Any]) -> None:
    moves.tell_decision(session, str(payload["transfer"]))

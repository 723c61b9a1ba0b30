"""Payments jobs: reconciliation and property tax demands (the local gateway's callback delivery
is registered in ``gateways.py``, beside the gateway that queues it)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.payments import demands, online
from nagara.payments.models import Property
from nagara.worker.registry import every, task

log = logging.getLogger("nagara.payments")


@task("payments.reconcile", single_runner=True)
def reconcile(session: Session, payload: dict[str, Any]) -> None:
    report = online.reconcile(session, limit=int(payload.get("limit", 200)))
    if report["checked"]:
        log.info("payments reconciliation: %s", report)


@task("payments.raise_property_demands", single_runner=True)
def raise_property_demands(session: Session, payload: dict[str, Any]) -> None:
    """The current half-year's demands for every local body with a property register (idempotent)."""
    for code in session.scalars(select(Property.local_body_code).distinct()):
        demands.raise_property_demands(session, code)


every(60, "payments.reconcile")
every(6 * 3600, "payments.raise_property_demands")

"""Payments jobs: the local gateway's callback delivery, reconciliation, property tax demands."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import distinct, select
from sqlalchemy.orm import Session

from nagara.payments import service
from nagara.payments.gateways import local_gateway
from nagara.payments.models import Property
from nagara.runtime import runtime_of
from nagara.worker.registry import every, task

log = logging.getLogger("nagara.payments")


@task("payments.local_gateway_callback")
def deliver_local_callback(session: Session, payload: dict[str, Any]) -> None:
    """Deliver the local gateway's signed callback; a failure raises and the worker retries with backoff."""
    local_gateway(runtime_of(session)).deliver(session, payload["order_id"])


@task("payments.reconcile", single_runner=True)
def reconcile(session: Session, payload: dict[str, Any]) -> None:
    report = service.reconcile(session, limit=int(payload.get("limit", 200)))
    if report["checked"]:
        log.info("payments reconciliation: %s", report)


@task("payments.raise_property_demands", single_runner=True)
def raise_property_demands(session: Session, payload: dict[str, Any]) -> None:
    """The current half-year's demands for every local body with a property register (idempotent)."""
    for code in session.scalars(select(distinct(Property.local_body_code))):
        service.raise_property_demands(session, code)


every(60, "payments.reconcile")
every(6 * 3600, "payments.raise_property_demands")

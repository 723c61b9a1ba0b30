"""Payments jobs: the local gateway's callback delivery, reconciliation, property tax demands."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.db import after_commit, utcnow
from nagara.payments import service
from nagara.payments.gateways import LocalGateway, local_gateway
from nagara.payments.models import LocalGatewayOrder, Property
from nagara.runtime import Runtime, runtime_of
from nagara.worker.registry import enqueue, every, task
from nagara.worker.runner import backoff_seconds

log = logging.getLogger("nagara.payments")
CALLBACK = "payments.local_gateway_callback"
CALLBACK_ATTEMPTS = 12  # about an hour of retries with the worker's backoff, then reconciliation alone


@task(CALLBACK)
def deliver_local_callback(session: Session, payload: dict[str, Any]) -> None:
    """Send the local gateway's signed callback, retrying with backoff until it is answered, as providers do.

    The POST is made after this job's transaction ends: on SQLite the job holds the one write
    lock, which the callback's own request needs. A failed POST queues the next attempt.
    """
    runtime = runtime_of(session)
    gw = local_gateway(runtime)
    order = session.get(LocalGatewayOrder, payload["order_id"])
    if order is None:
        return
    body, url, attempt = gw.callback_body(order), order.callback_url, int(payload.get("attempt", 1))
    after_commit(session, lambda: _send(runtime, gw, order.id, url, body, attempt))


def _send(runtime: Runtime, gw: LocalGateway, order_id: str, url: str, body: bytes, attempt: int) -> None:
    try:
        gw.post_callback(url, body)
    except Exception as exc:  # noqa: BLE001 - any failure to deliver is retried
        if attempt >= CALLBACK_ATTEMPTS:
            log.warning("local gateway: callback for %s not delivered after %d attempts: %r", order_id, attempt, exc)
            return
        log.info("local gateway: callback for %s failed (attempt %d): %r; retrying", order_id, attempt, exc)
        try:
            with runtime.db.unit_of_work() as session:
                job = enqueue(
                    session, CALLBACK, {"order_id": order_id, "attempt": attempt + 1}, dedupe_key=f"lgcb:{order_id}:{attempt + 1}"
                )
                job.run_after = utcnow() + timedelta(seconds=backoff_seconds(attempt))
        except Exception as again:  # noqa: BLE001 - the database is away too: reconciliation settles it
            log.warning("local gateway: could not queue the retry for %s: %r", order_id, again)


@task("payments.reconcile", single_runner=True)
def reconcile(session: Session, payload: dict[str, Any]) -> None:
    report = service.reconcile(session, limit=int(payload.get("limit", 200)))
    if report["checked"]:
        log.info("payments reconciliation: %s", report)


@task("payments.raise_property_demands", single_runner=True)
def raise_property_demands(session: Session, payload: dict[str, Any]) -> None:
    """The current half-year's demands for every local body with a property register (idempotent)."""
    for code in session.scalars(select(Property.local_body_code).distinct()):
        service.raise_property_demands(session, code)


every(60, "payments.reconcile")
every(6 * 3600, "payments.raise_property_demands")

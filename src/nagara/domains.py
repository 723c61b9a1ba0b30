"""Import every domain's tables and job handlers, so metadata and the job registry are complete."""

from __future__ import annotations

import importlib

DOMAIN_MODULES = (
    "nagara.kit.numbers",  # the register counters (number_counters)
    "nagara.tenancy.models",
    "nagara.identity.models",
    "nagara.identity.service",  # registers identity.send_sms
    "nagara.audit.models",
    "nagara.worker.models",
    "nagara.worker.tasks",  # prunes finished jobs hourly
    "nagara.catalog.models",
    "nagara.applications.models",
    "nagara.workflow.models",
    "nagara.workflow.tasks",  # registers and schedules workflow.sweep
    "nagara.ledger.models",
    "nagara.ledger.tasks",  # registers and schedules ledger.integrate and ledger.witness
    "nagara.payments.models",
    "nagara.payments.tasks",  # reconciliation, property tax demands; local gateway callbacks (payments.gateways)
    "nagara.certificates.models",
)


def load_all() -> None:
    for name in DOMAIN_MODULES:
        importlib.import_module(name)

"""Import every domain's tables and job handlers, so metadata and the job registry are complete,
and register what the domains above tenancy check in, and load from, a state's pack."""

from __future__ import annotations

import importlib

from nagara.catalog.definitions import check_service
from nagara.catalog.packs import load_services
from nagara.certificates.templates import pack_problems
from nagara.identity.permissions import role_problems
from nagara.tenancy import packs

DOMAIN_MODULES = (
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
    "nagara.payments.tasks",  # local gateway callbacks, reconciliation, property tax demands
    "nagara.certificates.models",
)


def load_all() -> None:
    """Every process calls this once before it serves, works or reads a pack (the app factory, the CLI, tests)."""
    for name in DOMAIN_MODULES:
        importlib.import_module(name)
    packs.register(
        packs.PackParts(
            check_role=role_problems,
            check_service=check_service,
            check_certificates=pack_problems,
            load_services=load_services,
        )
    )

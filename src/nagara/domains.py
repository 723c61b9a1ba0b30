"""Every domain in one place: its tables and job handlers imported; its event handlers,
workflow guards and effects registered; and what the domains above tenancy check in, and
load from, a state's pack. The app, the worker, the CLI, migrations and tests call
:func:`load_all` before they start.

This is the only module that knows which domain reacts to which: the workflow engine
emits events and names guards, and tenancy reads packs, without importing the domains above.
"""

from __future__ import annotations

import importlib
from typing import Any

from nagara.applications import acknowledgement, documents
from nagara.catalog.definitions import check_service
from nagara.catalog.packs import compare_services, load_services
from nagara.certificates import handlers as certificates
from nagara.certificates import pdftext
from nagara.certificates.templates import pack_part, pack_problems
from nagara.exchange import digilocker
from nagara.exchange import events as exchange_events
from nagara.grievances import assist as grievance_assist
from nagara.grievances import categories as grievance_categories
from nagara.grievances import events as grievance_events
from nagara.identity.permissions import role_problems
from nagara.ledger import handlers as ledger
from nagara.notifications import service as notifications
from nagara.notifications.templates import check as notification_problems
from nagara.payments import handlers as payments
from nagara.payments.accounts import fee_account_problems
from nagara.privacy import consent as privacy_consent
from nagara.privacy import handlers as privacy
from nagara.tenancy import packs
from nagara.worker.events import subscribe, subscribe_after_commit
from nagara.workflow import engine, events

DOMAIN_MODULES = (
    "nagara.kit.numbers",  # the register counters (number_counters)
    "nagara.kit.limits",  # the limit counters (throttles)
    "nagara.tenancy.models",
    "nagara.identity.models",
    "nagara.identity.service",  # registers identity.send_sms
    "nagara.audit.models",
    "nagara.worker.models",
    "nagara.worker.tasks",  # prunes finished jobs hourly
    "nagara.catalog.models",
    "nagara.applications.models",
    "nagara.applications.tasks",  # registers and schedules workflow.sweep
    "nagara.workflow.models",
    "nagara.ledger.models",
    "nagara.ledger.tasks",  # registers and schedules ledger.integrate and ledger.witness
    "nagara.payments.models",
    "nagara.payments.tasks",  # reconciliation, property tax demands; local gateway callbacks (payments.gateways)
    "nagara.certificates.models",
    "nagara.analytics.models",
    "nagara.analytics.tasks",  # folds the cases the ledger's new entries name into the rollups, every 5 s
    "nagara.exchange.models",
    "nagara.exchange.tasks",  # forgets old request nonces
    "nagara.migration.models",
    "nagara.ai.models",
    "nagara.privacy.models",
    "nagara.privacy.tasks",  # the daily erasure of what has outlived its retention period
    "nagara.grievances.models",
    "nagara.grievances.events",  # the engine announces grievance steps with the grievances' event
    "nagara.grievances.tasks",  # registers and schedules grievances.sweep
    "nagara.notifications.models",
    "nagara.notifications.tasks",  # sends, the daily digest
)


def wire() -> None:
    """Register who reacts to what. Idempotent: registering twice changes nothing."""
    # Every step of a case (an application's, a grievance's) goes to the public ledger, in the step's transaction.
    subscribe(events.StepWritten, ledger.on_step_recorded)
    # A fee is a demand from submission; cancelled when refused or withdrawn unpaid; owed again on appeal.
    subscribe(events.Submitted, payments.on_submitted)
    subscribe(events.Decided, payments.on_decided)
    subscribe(events.Reopened, payments.on_reopened)
    # An approval with an output issues its certificate in the same transaction.
    subscribe(events.Decided, certificates.on_decided)
    # After an approval commits, its certificate's URI is pushed to DigiLocker (when a push URL is set).
    subscribe_after_commit(events.Decided, "exchange.digilocker_push", digilocker.push_issued)
    # A step that may tell someone something queues its messages' job in the step's transaction (the
    # outbox: a rolled-back step sends nothing, a committed one is never missed); a breach, from the
    # sweep, the same way (a job naming who held the case).
    subscribe(events.StepRecorded, notifications.queue_step)
    subscribe(events.Breached, notifications.queue_breach)
    # A consent to sharing given or withdrawn at the exchange is a signed consent artefact with its hash on the
    # ledger, in the same transaction; withdrawn on the citizen's consents page, the exchange refuses it at once.
    subscribe(exchange_events.ConsentGranted, privacy.on_exchange_consent)
    subscribe(exchange_events.ConsentWithdrawn, privacy.on_exchange_withdrawn)
    privacy_consent.WITHDRAW_SOURCE[privacy.EXCHANGE] = privacy.withdraw_exchange_consent
    # A new grievance gets the triage assistant's suggestion (or a place in the human triage queue) in
    # its filing's transaction; nothing when triage is off for the state.
    subscribe(grievance_events.Filed, grievance_assist.on_filed)
    # A grievance's filing, assignment, escalation, resolution and merger queue their messages the same way.
    for grievance_event in notifications.GRIEVANCE_EVENTS:
        subscribe(grievance_event, notifications.queue_grievance)

    engine.register_guard("documents_complete", documents.guard_documents_complete)
    engine.register_guard("documents_verified", documents.guard_documents_verified)
    engine.register_effect("verify_documents", documents.effect_verify_documents)
    # Acknowledgement slips get the certificates' exact-text layer for Indic scripts.
    acknowledgement.before_pdf(pdftext.install)


def _check_service(definition: dict[str, Any], *, roles: set[str], languages: list[str]) -> list[tuple[str, str]]:
    """The catalog's checks of a service, and payments' of its fee items' accounts against the chart."""
    return check_service(definition, roles=roles, languages=languages) + fee_account_problems(definition)


def load_all() -> None:
    """Every process calls this once before it serves, works or reads a pack (the app factory, the CLI, tests)."""
    for name in DOMAIN_MODULES:
        importlib.import_module(name)
    packs.register(
        packs.PackParts(
            check_role=role_problems,
            check_service=_check_service,
            check_certificates=pack_problems,
            read_certificates=pack_part,
            load_services=load_services,
            compare_services=compare_services,
            check_notifications=notification_problems,
        )
    )
    # grievances.yaml: the state's grievance categories (optional: without it no grievances are offered).
    packs.register_extra(packs.PackExtra(grievance_categories.FILE, grievance_categories.check, grievance_categories.load))
    wire()

"""How payments follow an application through the workflow (subscribed in nagara/domains.py).

A fee becomes a demand when the application is submitted; the demand is cancelled
when the application ends refused or withdrawn with the fee unpaid, and owed again
when an appeal reopens it. Each runs in the transaction of the workflow step.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from nagara.applications.models import as_application
from nagara.payments import demands
from nagara.workflow.events import Decided, Reopened, Submitted


def on_submitted(session: Session, event: Submitted) -> None:
    app = as_application(event.case)
    if app.fee_total > 0:
        # Self-certified approval waits for the fee: the demand carries the state to move to once paid.
        demands.raise_for_application(session, app, then_state=event.approve_to, now=event.at)


def on_decided(session: Session, event: Decided) -> None:
    app = as_application(event.case)
    if app.fee_total > 0 and not app.fee_paid and event.outcome != "approved":
        demands.cancel_for_application(session, app)  # nothing is owed for a refused or withdrawn application


def on_reopened(session: Session, event: Reopened) -> None:
    app = as_application(event.case)
    if app.fee_total > 0 and not app.fee_paid:
        demands.reopen_for_application(session, app)  # an appeal reopens the application, and its fee


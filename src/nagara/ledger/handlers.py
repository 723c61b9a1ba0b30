"""The public ledger records every step of every case, application or grievance (subscribed in nagara/domains.py).

The entry names the role that acted, never the person; its content is hashed, salted.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from nagara.ledger import service as ledger
from nagara.workflow.events import StepWritten


def on_step_recorded(session: Session, event: StepWritten) -> None:
    """Any case's step: an application's (``application.action``) or another kind's (its ``ledger_type``)."""
    entry = event.entry
    ledger.append(
        session,
        type=getattr(type(event.case), "ledger_type", "application.action"),
        tenant_code=event.case.local_body_code,
        subject=event.case.number,
        content={
            "seq": entry.seq,
            "action": entry.action,
            "from": entry.from_state,
            "to": entry.to_state,
            "at": entry.at.isoformat(),
        },
        actor_role=entry.actor_role,
    )

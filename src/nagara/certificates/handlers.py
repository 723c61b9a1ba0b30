"""Certificates follow the workflow: an approved application with an output gets its certificate
in the approval's own transaction (subscribed in nagara/domains.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.certificates.service import issue_on_approval
from nagara.workflow.events import Decided


def on_decided(session: Session, event: Decided) -> None:
    if event.outcome == "approved" and event.service.definition.get("output") and isinstance(event.case, Application):
        issue_on_approval(session, event.service, event.case, event.at)

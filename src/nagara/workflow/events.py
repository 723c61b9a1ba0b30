"""What the workflow announces as a case moves, for the domains that react to it.

The engine emits these inside the unit of work that moves the case (see
``nagara.worker.events``); payments, certificates and the ledger subscribe in
``nagara/domains.py``. Each event carries the case (an application today) as the
row being changed, the service it runs under, and the time of the step; after-commit
handlers receive :meth:`CaseEvent.payload` instead: ids and codes, no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from nagara.catalog.definitions import Service
from nagara.worker.events import Event
from nagara.workflow.models import Breach, Case, HistoryEntry


@dataclass(frozen=True, kw_only=True)
class CaseEvent(Event):
    case: Case
    service: Service
    at: datetime

    def payload(self) -> dict[str, Any]:
        return {
            "case_id": self.case.id,
            "number": self.case.number,
            "local_body": self.case.local_body_code,
            "service": self.case.service_code,
            "state": self.case.state,
            "at": self.at.isoformat(),
        }


class Step(Protocol):
    """A history entry of any kind of case (``HistoryEntry`` of an application, a grievance's step)."""

    seq: int
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor_role: str


@dataclass(frozen=True, kw_only=True)
class StepWritten(CaseEvent):
    """A step was written to the history of a case of any kind (the ledger records every one).

    Each kind of case announces its own subclass: :class:`StepRecorded` for applications,
    ``grievances.events.GrievanceStepRecorded`` for grievances; subscribe to the one you handle.
    """

    entry: Step

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "seq": self.entry.seq, "action": self.entry.action, "role": self.entry.actor_role}


@dataclass(frozen=True, kw_only=True)
class StepRecorded(StepWritten):
    """A step was written to an application's history (every action, escalation, payment step)."""

    entry: HistoryEntry

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "seq": self.entry.seq, "action": self.entry.action, "role": self.entry.actor_role}


@dataclass(frozen=True, kw_only=True)
class Submitted(CaseEvent):
    """The applicant submitted: the clock started and fees were assessed.

    ``approve_to`` is the state to enter once the fee is paid when the applicant
    self-certified (None otherwise); with no fee the engine has already entered it.
    """

    approve_to: str | None


@dataclass(frozen=True, kw_only=True)
class ActionTaken(CaseEvent):
    """Someone took one of the workflow's actions (not submission, not a system step)."""

    action: str
    role: str
    from_state: str
    to_state: str

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "action": self.action, "role": self.role, "from": self.from_state, "to": self.to_state}


@dataclass(frozen=True, kw_only=True)
class StateEntered(CaseEvent):
    """The case entered ``state`` (held by ``role``), coming from ``from_state``."""

    from_state: str | None
    to_state: str
    role: str | None


@dataclass(frozen=True, kw_only=True)
class Returned(StateEntered):
    """Office work went back to the applicant (for a correction or a document)."""


@dataclass(frozen=True, kw_only=True)
class Resubmitted(StateEntered):
    """The applicant sent a returned case back to the office."""


@dataclass(frozen=True, kw_only=True)
class Reopened(StateEntered):
    """A decided case is open again (an appeal was allowed)."""


@dataclass(frozen=True, kw_only=True)
class Decided(CaseEvent):
    """The case reached a final state with ``outcome`` (approved, rejected, withdrawn...)."""

    outcome: str
    state: str

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "outcome": self.outcome}


@dataclass(frozen=True, kw_only=True)
class Withdrawn(Decided):
    """The applicant withdrew: a decision with the outcome ``withdrawn``."""


@dataclass(frozen=True, kw_only=True)
class Appealed(CaseEvent):
    """The applicant appealed (``level`` 1 first appeal, 2 second)."""

    level: int


@dataclass(frozen=True, kw_only=True)
class Breached(CaseEvent):
    """A time limit passed: of the current state (``kind="state"``, escalated to ``breach.escalated_to``)
    or of the whole service (``kind="service"``, compensation may be owed)."""

    breach: Breach

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "kind": self.breach.kind, "due_at": self.breach.due_at.isoformat()}

"""What a grievance announces as it moves, for the domains that react (notifications, dashboards,
privacy, triage). Subscribe in ``nagara/domains.py`` with ``nagara.worker.events.subscribe`` (in the
step's transaction, receives the event with the row) or ``subscribe_after_commit`` (through the
outbox, receives :meth:`GrievanceEvent.payload`: ids, codes and times, never personal data).

Every step is also written to the grievance's history by the workflow engine, which announces it
as :class:`GrievanceStep` (a ``workflow.events.StepWritten``; the ledger records it).
A handler subscribed to :class:`GrievanceEvent` receives every kind below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nagara.grievances.models import Grievance, GrievanceStep
from nagara.worker.events import Event
from nagara.workflow.events import StepWritten


@dataclass(frozen=True, kw_only=True)
class GrievanceStepRecorded(StepWritten):
    """A step was written to a grievance's history (the engine emits it; the ledger records it)."""

    entry: GrievanceStep


@dataclass(frozen=True, kw_only=True)
class GrievanceEvent(Event):
    grievance: Grievance
    at: datetime

    def payload(self) -> dict[str, Any]:
        g = self.grievance
        return {
            "grievance_id": g.id,
            "number": g.number,
            "state_code": g.state_code,
            "local_body": g.local_body_code,
            "ward": g.ward_code,
            "category": g.category_code,
            "department": g.department,
            "public": g.public,
            "state": g.state,
            "level": g.level,
            "assigned_role": g.assigned_role,
            "due_at": g.state_due_at.isoformat() if g.state_due_at else None,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class Filed(GrievanceEvent):
    """A grievance was filed (``channel``: portal, guest, assisted or open311) and assigned at level 1."""

    channel: str

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "channel": self.channel}


@dataclass(frozen=True, kw_only=True)
class Acted(GrievanceEvent):
    """An officer or the citizen took a step (``action``) from ``from_state``."""

    action: str
    role: str
    from_state: str

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "action": self.action, "role": self.role, "from": self.from_state}


@dataclass(frozen=True, kw_only=True)
class Assigned(Acted):
    """Handed to a field officer (``assigned_to_id`` on the grievance), singly or in bulk."""


@dataclass(frozen=True, kw_only=True)
class Started(Acted):
    """Work began (in progress)."""


@dataclass(frozen=True, kw_only=True)
class Transferred(Acted):
    """Sent to another department or local body (the grievance names where it is now)."""

    from_local_body: str
    from_department: str

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "from_local_body": self.from_local_body, "from_department": self.from_department}


@dataclass(frozen=True, kw_only=True)
class InterimReplied(Acted):
    """An interim reply; ``extended`` when it moved the level's due time (the grievance's ``state_due_at``)."""

    extended: bool

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "extended": self.extended}


@dataclass(frozen=True, kw_only=True)
class Resolved(Acted):
    """Resolved with a note (and a photo where the category asks); the citizen may confirm, rate or reopen."""


@dataclass(frozen=True, kw_only=True)
class Reopened(Acted):
    """The citizen reopened it after resolution: it goes one level up."""


@dataclass(frozen=True, kw_only=True)
class Closed(Acted):
    """Closed: confirmed by the citizen, by the window passing, or merged into another (``action`` says which)."""


@dataclass(frozen=True, kw_only=True)
class Rated(GrievanceEvent):
    """The citizen rated the resolution 1-5; ``poor`` ratings open an appeal at the next level (:class:`Appealed`)."""

    rating: int
    poor: bool

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "rating": self.rating, "poor": self.poor}


@dataclass(frozen=True, kw_only=True)
class Appealed(GrievanceEvent):
    """A poor rating opened an appeal: the grievance is open again at ``level``."""


@dataclass(frozen=True, kw_only=True)
class Escalated(GrievanceEvent):
    """The sweep moved it up a level when the level's time passed (``to_level`` None: already at the last)."""

    from_level: int
    to_level: int | None

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "from_level": self.from_level, "to_level": self.to_level}


@dataclass(frozen=True, kw_only=True)
class Merged(GrievanceEvent):
    """``grievance`` was closed as a duplicate of ``into``; the citizens of both are to be kept informed."""

    into: Grievance

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "into_id": self.into.id, "into_number": self.into.number}


@dataclass(frozen=True, kw_only=True)
class Supported(GrievanceEvent):
    """A citizen added "me too" to a public grievance (``supporters`` on it is the new count)."""

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "supporters": self.grievance.supporters}


Grievance.step_event = GrievanceStepRecorded

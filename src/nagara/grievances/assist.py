"""The assistants (:mod:`nagara.ai`) at work on grievances, an officer always deciding.

- Triage: when a grievance is filed (:class:`events.Filed`, subscribed in ``domains.py``), the state's
  triage model suggests a category and department from the citizen's words; the suggestion is
  recorded (``ai_suggestions``: model version, input hash, output) and its summary kept in
  ``grievance_triage``. Below the pack's threshold no category is offered: the grievance waits in the
  human triage queue (:func:`triage_queue`). An officer who acts on grievances there confirms or
  corrects the category (:func:`decide_triage`), which is kept as training data for the next
  ``nagara ai train``. With triage off for the state (or never trained) filing goes on without it.
- Duplicates: before a citizen files, the open public grievances of the body that probably report the
  same problem (:func:`duplicates_for_filing`; "is it one of these? add me too"), and on the officer's
  page the open grievances this one may be merged with (:func:`merge_candidates`), both from
  :mod:`nagara.ai.duplicates`: same category, same ward (or one of them without a ward), filed within
  :data:`WINDOW`, sharing the distinctive words (places, landmarks) across scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nagara.ai import duplicates as dup
from nagara.ai import service as ai
from nagara.ai.models import AiSuggestion
from nagara.grievances import events, service
from nagara.grievances.models import Grievance, GrievanceTriage
from nagara.kit.access import Principal, scope
from nagara.kit.errors import Conflict, Forbidden, Invalid, NotFound
from nagara.tenancy.context import immutable
from nagara.tenancy.models import Ward

WINDOW = timedelta(days=30)  # filed this close together, two complaints may be one problem
CANDIDATES = 50  # the most recent open grievances of the category and ward compared (newest first): ~0.3 ms each
SHOWN = 5


# --- triage ----------------------------------------------------------------------------------------


def on_filed(session: Session, event: events.Filed) -> None:
    """Suggest a category for the new grievance and keep it for the officer (in the filing's transaction)."""
    g = event.grievance
    try:
        suggestion_id, suggestion = ai.suggest_triage(session, g.state_code, g.description, subject=f"grievance:{g.id}")
    except ai.AssistantOff:
        return
    session.add(
        GrievanceTriage(
            grievance_id=g.id,
            local_body_code=g.local_body_code,
            suggestion_id=suggestion_id,
            category=suggestion.category,
            confidence=suggestion.confidence,
            needs_human=suggestion.needs_human,
        )
    )  # flushed with the suggestion at the filing's commit (the unit of work orders the two inserts by their key)


@dataclass(frozen=True)
class Triage:
    """What the officer's page shows: the suggestion and why, or that it waits for a person; the decision."""

    category: str
    department: str
    confidence: float
    reasons: list[str]  # the words of the complaint that weighed most for the category
    top: list[tuple[str, float]]
    needs_human: bool
    model_version: str
    filed_under: str  # the category the grievance is under now
    decided_category: str | None
    decided_at: datetime | None
    choices: list[str]  # the categories an officer may give (the current model's)


def triage_of(session: Session, g: Grievance) -> Triage | None:
    """The triage of a grievance an officer reads (the caller checked that they may), or None without one."""
    row = session.execute(
        select(GrievanceTriage, AiSuggestion.output, AiSuggestion.model_version)
        .join(AiSuggestion, AiSuggestion.id == GrievanceTriage.suggestion_id)
        .where(GrievanceTriage.grievance_id == g.id)
    ).first()
    if row is None:
        return None
    triage, output, version = row
    try:
        choices = list(ai.current_triage(session, g.state_code).classes)
    except ai.AssistantOff:
        choices = []
    return Triage(
        category=triage.category,
        department=str(output.get("department", "")),
        confidence=triage.confidence,
        reasons=[str(w) for w in output.get("reasons", [])],
        top=[(str(c), float(p)) for c, p in output.get("top", [])],
        needs_human=triage.needs_human,
        model_version=version,
        filed_under=g.category_code,
        decided_category=triage.decided_category,
        decided_at=triage.decided_at,
        choices=choices,
    )


def _acts_here(principal: Principal, g: Grievance) -> bool:
    return principal.may(service.ACT, state_code=g.state_code, local_body_code=g.local_body_code, ward_code=g.ward_code)


def decide_triage(session: Session, principal: Principal, number: str, category: str, *, now: datetime) -> GrievanceTriage:
    """An officer who acts on grievances at its place confirms or corrects the suggested category (once);
    the decision is an ``ai_labels`` row, trained on by the next ``nagara ai train``."""
    g = session.scalar(select(Grievance).where(Grievance.number == number))
    if g is None or not (service.may_read(principal, g) or _acts_here(principal, g)) or principal.kind != "officer":
        raise NotFound(f"no grievance {number!r} that you may see")
    if not _acts_here(principal, g):
        raise Forbidden(f"deciding the category of a grievance needs {service.ACT!r} at {g.local_body_code}")
    triage = session.get(GrievanceTriage, g.id, with_for_update=True, populate_existing=True)
    if triage is None:
        raise NotFound(f"the assistant made no suggestion for grievance {number!r}")
    if triage.decided_at is not None:
        raise Conflict(f"the category of grievance {number!r} was decided already ({triage.decided_category})")
    try:
        label = ai.label_triage(
            session, g.state_code, g.description, category, suggestion_id=triage.suggestion_id, user_id=principal.user_id
        )
    except ai.AssistantOff as exc:
        raise Conflict(str(exc)) from None
    except ValueError as exc:
        raise Invalid(str(exc), [{"loc": ["body", "category"], "msg": str(exc), "type": "enum"}]) from None
    triage.decided_category = category
    triage.decided_by_id = principal.user_id
    triage.decided_at = now
    triage.label_id = label.id
    session.flush()
    return triage


def triage_queue(session: Session, principal: Principal, *, limit: int = 200) -> list[tuple[Grievance, GrievanceTriage]]:
    """Open grievances of the caller's jurisdiction whose suggestion was below the threshold and that no
    officer has categorised yet, oldest first."""
    theirs = scope(
        principal,
        service.ACT,
        state_col=Grievance.state_code,
        local_body_col=Grievance.local_body_code,
        ward_col=Grievance.ward_code,
    )
    rows = session.execute(
        select(Grievance, GrievanceTriage)
        .join(GrievanceTriage, GrievanceTriage.grievance_id == Grievance.id)
        .where(theirs, GrievanceTriage.needs_human.is_(True), GrievanceTriage.decided_at.is_(None), Grievance.is_open.is_(True))
        .order_by(Grievance.created_at, Grievance.number)
        .limit(limit)
    )
    return [(g, t) for g, t in rows]


# --- duplicates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    number: str
    description: str
    filed_at: datetime
    supporters: int
    score: float
    shared: list[str]  # the distinctive words of the new complaint the candidate has too


def _similarity(session: Session, state_code: str) -> dup.Similarity | None:
    try:
        model = ai.current_triage(session, state_code)
    except ai.AssistantOff:
        return None
    return immutable(session, ("grievances.similarity", model.version), lambda: dup.Similarity(model))


def _matches(
    session: Session, similarity: dup.Similarity, new: dup.Complaint, local_body_code: str, *, public_only: bool, exclude: Any
) -> list[Candidate]:
    q = select(
        Grievance.id,
        Grievance.number,
        Grievance.description,
        Grievance.created_at,
        Grievance.ward_code,
        Grievance.supporters,
    ).where(
        Grievance.local_body_code == local_body_code,
        Grievance.category_code == new.category,
        Grievance.is_open.is_(True),
        Grievance.merged_into_id.is_(None),
        Grievance.created_at >= new.filed_at - WINDOW,
        Grievance.created_at <= new.filed_at + WINDOW,
        exclude,
    )
    if public_only:
        q = q.where(Grievance.public.is_(True))
    if new.ward is not None:
        q = q.where(or_(Grievance.ward_code == new.ward, Grievance.ward_code.is_(None)))
    rows = {r.id: r for r in session.execute(q.order_by(Grievance.created_at.desc(), Grievance.id).limit(CANDIDATES))}
    others = [dup.Complaint(r.id, r.description, r.created_at, r.ward_code, new.category) for r in rows.values()]
    found = dup.likely_duplicates(new, others, similarity, window=WINDOW, limit=SHOWN)
    return [
        Candidate(rows[m.key].number, rows[m.key].description, rows[m.key].created_at, rows[m.key].supporters, m.score, m.shared)
        for m in found
    ]


def duplicates_for_filing(
    session: Session,
    principal: Principal,
    local_body_code: str,
    category: str,
    ward: int | None,
    description: str,
    *,
    now: datetime,
) -> list[Candidate]:
    """The open public grievances that probably report what the citizen is about to file (not their own),
    likeliest first: "is it one of these? add me too". Empty when duplicate detection is off."""
    if not description.strip():
        return []
    state_code = local_body_code.split(".", maxsplit=1)[0]
    similarity = _similarity(session, state_code)
    if similarity is None:
        return []
    ward_code = (
        session.scalar(select(Ward.code).where(Ward.local_body_code == local_body_code, Ward.number == ward))
        if ward is not None
        else None
    )
    new = dup.Complaint("new", description, now, ward_code, category)
    return _matches(
        session, similarity, new, local_body_code, public_only=True, exclude=Grievance.citizen_id != principal.user_id
    )


def merge_candidates(session: Session, g: Grievance) -> list[Candidate]:
    """Open grievances of the same body that this open one probably duplicates (the officer may merge it
    into one of them); the caller checked that the officer reads it."""
    if not g.is_open or g.merged_into_id is not None:
        return []
    similarity = _similarity(session, g.state_code)
    if similarity is None:
        return []
    new = dup.Complaint(g.id, g.description, g.created_at, g.ward_code, g.category_code)
    return _matches(session, similarity, new, g.local_body_code, public_only=False, exclude=Grievance.id != g.id)

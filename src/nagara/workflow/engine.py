"""Applying workflow actions: who may, from which state, with which guards and effects.

Every action is applied inside the caller's unit of work: the case row (with its
version checked), one history entry and the audit event commit or roll back
together. Due times count working days on the local body's calendar.

The engine imports no domain above it. It announces each step as an event
(``workflow/events.py``: submitted, state entered, decided, returned...) that
payments, certificates and the ledger handle in the same transaction; guards
(``documents_verified``) and effects (``verify_documents``) named in a pack are
registered by the domain that knows them (see ``nagara/domains.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from nagara.catalog.definitions import (
    ALLOW_APPEAL,
    APPEAL,
    APPEAL_DISMISSED,
    APPLICANT,
    DISMISS_APPEAL,
    DRAFT,
    ESCALATE,
    FIRST_APPEAL,
    SECOND_APPEAL,
    STAY,
    SUBMIT,
    Service,
)
from nagara.catalog.rules import all_hold, assess_fees, total
from nagara.identity.models import RoleAssignment, User
from nagara.kit.access import Principal
from nagara.kit.calendar import WorkingCalendar
from nagara.kit.db import memo
from nagara.kit.errors import Conflict, Forbidden, Invalid, Problem
from nagara.tenancy.context import body_place
from nagara.worker.events import emit
from nagara.workflow import events
from nagara.workflow.models import Breach, Case, HistoryEntry

SYSTEM = "system"


class PreconditionFailed(Problem):
    status = 412
    type_slug = "stale-version"
    title = "The application has changed"


class NotAllowedNow(Problem):
    status = 409
    type_slug = "action-not-allowed"
    title = "Action not allowed now"


@dataclass
class Clock:
    """Working-day arithmetic for one local body, in its state's time zone."""

    calendar: WorkingCalendar
    zone: ZoneInfo

    @classmethod
    def for_application(cls, session: Session, app: Case) -> Clock:
        place = body_place(session, app.local_body_code)
        return cls(place.calendar, place.zone)

    def due(self, start: datetime, working_days: int) -> datetime:
        """The end of the office day ``working_days`` working days after ``start``."""
        local_day = start.astimezone(self.zone).date()
        day = self.calendar.add_working_days(local_day, working_days)
        return datetime.combine(day, time(23, 59, 59), self.zone).astimezone(UTC)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        return self.calendar.working_days_between(start.astimezone(self.zone).date(), end.astimezone(self.zone).date())


# The permission behind an operator's rights over what they filed for a citizen (assisted access).
ASSIST = "identity:citizen:assist"


def acts_as_applicant(principal: Principal, app: Case) -> bool:
    """The citizen who owns the case, or the operator who filed it while they still assist there.

    Access comes from the roles held now: having filed a case once grants nothing after the
    operator's assisting role at its local body is revoked.
    """
    if principal.user_id == app.applicant_id:
        return True
    return principal.user_id == app.filed_by_id and principal.may(
        ASSIST, state_code=app.state_code, local_body_code=app.local_body_code, ward_code=app.ward_code
    )


def roles_here(principal: Principal, app: Case) -> set[str]:
    """The roles the principal holds over this case, and ``applicant`` for its owner (see :func:`acts_as_applicant`)."""
    roles = {
        g.role for g in principal.grants if g.scope != "self" and g.covers(app.state_code, app.local_body_code, app.ward_code)
    }
    if acts_as_applicant(principal, app):
        roles.add(APPLICANT)
    return roles


def _permission_for(action_code: str) -> str:
    return "applications:appeal:decide" if action_code in (ALLOW_APPEAL, DISMISS_APPEAL) else "applications:application:act"


def _appeal_window_open(service: Service, app: Case, now: datetime) -> bool:
    appeals = service.workflow.get("appeals") or {}
    level = "first" if app.appeal_level == 0 else "second" if app.appeal_level == 1 else None
    if level is None or level not in appeals:
        return False
    within = timedelta(days=appeals[level]["within_days"])
    if app.outcome == "rejected" and app.decided_at is not None:
        return now <= app.decided_at + within
    if app.is_open and app.service_due_at is not None and app.state not in (FIRST_APPEAL, SECOND_APPEAL):
        return app.service_due_at < now <= app.service_due_at + within
    return False


def possible_actions(service: Service, app: Case, now: datetime) -> list[dict[str, Any]]:
    """Every action defined for the current state, built-in appeal actions included."""
    actions = [a for a in service.actions() if app.state in a["from"]] if app.is_open else []
    appeals = service.workflow.get("appeals") or {}
    if app.state in (FIRST_APPEAL, SECOND_APPEAL):
        role = appeals["first" if app.state == FIRST_APPEAL else "second"]["role"]
        actions = [
            {"code": ALLOW_APPEAL, "name": {"en": "Allow the appeal"}, "roles": [role], "comment_required": True},
            {"code": DISMISS_APPEAL, "name": {"en": "Dismiss the appeal"}, "roles": [role], "comment_required": True},
        ]
    elif _appeal_window_open(service, app, now):
        actions.append({"code": APPEAL, "name": {"en": "Appeal"}, "roles": [APPLICANT], "comment_required": True})
    return actions


def known_actions(service: Service) -> list[str]:
    """Every action code the service has: the pack's, submit, and the appeal actions when it has appeals."""
    codes = [SUBMIT] + [a["code"] for a in service.actions()]
    if service.workflow.get("appeals"):
        codes += [APPEAL, ALLOW_APPEAL, DISMISS_APPEAL]
    return codes


def _acting_role(principal: Principal, app: Case, action: dict[str, Any], roles: set[str]) -> str | None:
    """The first of the action's roles that the principal holds here, with the permission it needs."""
    for role in action["roles"]:
        if role in roles and (
            role == APPLICANT
            or principal.may(
                _permission_for(action["code"]),
                state_code=app.state_code,
                local_body_code=app.local_body_code,
                ward_code=app.ward_code,
            )
        ):
            return str(role)
    return None


def allowed_actions(service: Service, app: Case, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    roles = roles_here(principal, app)
    return [a for a in possible_actions(service, app, now) if _acting_role(principal, app, a, roles) is not None]


# --- guards and effects named in packs, registered by the domains that know them ------------

Guard = Callable[[Session, Service, Case], list[str]]
"""Returns why the guard does not hold (each reason shown to the officer); empty when it holds."""
Effect = Callable[[Session, Service, Case, Principal, datetime], None]
"""Changes what the action implies (documents verified) or refuses it by raising a Problem."""


def _fee_paid(session: Session, service: Service, app: Case) -> list[str]:
    if app.fee_total > 0 and not app.fee_paid:
        return [f"the fee of Rs {app.fee_total / 100:.2f} is not paid"]
    return []


GUARDS: dict[str, Guard] = {"fee_paid": _fee_paid}
EFFECTS: dict[str, Effect] = {}


def register_guard(name: str, guard: Guard) -> None:
    GUARDS[name] = guard


def register_effect(name: str, effect: Effect) -> None:
    EFFECTS[name] = effect


def _registered(registry: dict[str, Any], kind: str, name: str) -> Any:
    found = registry.get(name)
    if found is None:
        # A pack names a guard or effect no domain registered: refusing is safer than skipping it.
        raise RuntimeError(f"no workflow {kind} named {name!r} is registered (nagara.domains.load_all() registers them)")
    return found


def _check_guards(session: Session, app: Case, guards: list[str], service: Service) -> list[str]:
    failed: list[str] = []
    for name in guards:
        failed.extend(_registered(GUARDS, "guard", name)(session, service, app))
    return failed


P = ParamSpec("P")
R = TypeVar("R")


def _one_flush(step: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """A step is computed in memory and written by one flush at the end: queries on the way do
    not flush the half-changed case, so it is one UPDATE and its version goes up by one."""

    @functools.wraps(step)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with session.no_autoflush:
            result = step(session, *args, **kwargs)
        session.flush()
        return result

    return run


# --- moving a case ---------------------------------------------------------------------------


def _holders() -> Any:
    """The active officers holding a role at a place; its values come as bound parameters."""
    return (
        select(RoleAssignment.user_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.role_code == bindparam("role"),
            RoleAssignment.state_code == bindparam("state"),
            or_(RoleAssignment.local_body_code == bindparam("body"), RoleAssignment.local_body_code.is_(None)),
            or_(RoleAssignment.ward_code.is_(None), RoleAssignment.ward_code == bindparam("ward")),
            User.is_active.is_(True),
            User.kind == "officer",
        )
    )


# Built once: SQLAlchemy memoises a statement's cache key on the object, and computing it for
# this join on every submission was a tenth of a submission's CPU (py-spy, bench/applications.py).
_FIRST_TWO_HOLDERS = _holders().limit(2)


@functools.cache
def _least_loaded(model: Any) -> Any:
    """For a case class: the holder with the fewest open cases, fewest first, then by id."""
    holders = _holders()
    load = (
        select(model.assigned_to_id, func.count().label("n"))
        .where(model.is_open.is_(True), model.assigned_to_id.in_(holders))
        .group_by(model.assigned_to_id)
        .subquery()
    )
    return (
        select(RoleAssignment.user_id, func.coalesce(load.c.n, 0).label("n"))
        .where(RoleAssignment.user_id.in_(holders))
        .outerjoin(load, load.c.assigned_to_id == RoleAssignment.user_id)
        .order_by(func.coalesce(load.c.n, 0), RoleAssignment.user_id)
        .limit(1)
    )


def holders(session: Session, app: Case, role: str) -> list[str]:
    """Every active officer holding ``role`` where ``app`` is (its body, its state, its ward)."""
    where = {"role": role, "state": app.state_code, "body": app.local_body_code, "ward": app.ward_code}
    return [str(u) for u in session.scalars(_holders(), where)]


def least_loaded_officer(session: Session, app: Case, role: str) -> str | None:
    """The active officer holding ``role`` here with the fewest open cases of this kind."""
    where = {"role": role, "state": app.state_code, "body": app.local_body_code, "ward": app.ward_code}
    candidates = list(session.scalars(_FIRST_TWO_HOLDERS, where))
    if len(candidates) < 2:  # nobody, or one officer: no need to count anyone's work
        return str(candidates[0]) if candidates else None
    row = session.execute(_least_loaded(type(app)), where).first()  # the mapped class of the case
    return str(row.user_id) if row else None


def _history(
    session: Session,
    service: Service,
    app: Case,
    *,
    action: str,
    from_state: str | None,
    to_state: str,
    actor_id: str | None,
    actor_role: str,
    comment: str | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> HistoryEntry:
    """Write the case's next step to its kind's history table and announce it.

    An application's steps go to ``application_history`` (:class:`HistoryEntry`) and are announced as
    ``StepRecorded``; another kind of case names its table and event on its class (``history_model``,
    whose ``case_key`` is the column naming the case, and ``step_event``), as grievances do.
    """
    app.last_seq += 1  # the case row is version-checked, so two steps never take the same number
    model = getattr(type(app), "history_model", HistoryEntry)
    entry = model(
        **{getattr(model, "case_key", "application_id"): app.id},
        seq=app.last_seq,
        at=now,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor_id=actor_id,
        actor_role=actor_role,
        comment=comment,
        data=data,
    )
    session.add(entry)
    memo(session).setdefault(_WRITTEN, []).append(entry)  # a strong reference: the identity map holds rows weakly
    event = getattr(type(app), "step_event", events.StepRecorded)
    emit(session, event(case=app, service=service, at=now, entry=entry))
    return entry  # a GrievanceStep for a grievance: the same columns


_WRITTEN = "nagara.workflow.written"


def written_steps(session: Session, app: Case) -> list[HistoryEntry]:
    """The history entries this unit of work wrote for ``app``, in order (a response needs no query for them)."""
    key = getattr(getattr(type(app), "history_model", HistoryEntry), "case_key", "application_id")
    return [e for e in memo(session).get(_WRITTEN, ()) if getattr(e, key, None) == app.id]


def enter_state(session: Session, service: Service, app: Case, state: str, now: datetime, clock: Clock) -> None:
    """Move to ``state``: due time, holder, outcome, and the paused service clock; announce it."""
    from_state = app.state
    leaving = service.state(app.state) if app.state else {}
    if leaving.get("pauses_clock") and app.paused_at is not None and app.service_due_at is not None:
        paused_days = clock.working_days_between(app.paused_at, now)
        app.service_due_at = clock.due(app.service_due_at, paused_days) if paused_days else app.service_due_at
        app.paused_at = None
    target = service.state(state)
    app.state = state
    app.state_entered_at = now
    app.state_escalated = False
    sla = target.get("sla_days")
    app.state_due_at = clock.due(now, sla) if sla is not None and not target.get("final") else None
    if target.get("pauses_clock"):
        app.paused_at = now
    if target.get("final"):
        app.is_open = False
        app.outcome = target["outcome"]
        app.decided_at = now
        app.assigned_role = None
        app.assigned_to_id = None
        emit(session, events.StateEntered(case=app, service=service, at=now, from_state=from_state, to_state=state, role=None))
        decided = events.Withdrawn if app.outcome == "withdrawn" else events.Decided
        emit(session, decided(case=app, service=service, at=now, outcome=target["outcome"], state=state))
        return
    app.is_open = True
    app.outcome = None
    app.decided_at = None
    role = target["role"]
    app.assigned_role = role
    app.assigned_to_id = None if role == APPLICANT else least_loaded_officer(session, app, role)
    kind = events.StateEntered
    if leaving.get("final"):
        kind = events.Reopened
    elif role == APPLICANT and leaving.get("role") not in (None, APPLICANT) and from_state != DRAFT:
        kind = events.Returned
    elif role != APPLICANT and leaving.get("role") == APPLICANT and from_state != DRAFT:
        kind = events.Resubmitted
    emit(session, kind(case=app, service=service, at=now, from_state=from_state, to_state=state, role=role))


# --- returned for correction ------------------------------------------------------------------

CORRECT = "correct"  # the key of a return's history data: {"fields": [...], "documents": [...]}


@dataclass(frozen=True)
class Correct:
    """What an officer asks the applicant to correct: form fields and document codes; None is all of them."""

    fields: Sequence[str] | None = None
    documents: Sequence[str] | None = None


def returns_to_applicant(service: Service, from_state: str, to_state: str) -> bool:
    """Whether moving from ``from_state`` to ``to_state`` hands the case back from the office to the applicant."""
    if to_state == STAY or from_state == DRAFT:
        return False
    target = service.state(to_state)
    return (
        target.get("role") == APPLICANT
        and not target.get("final")
        and service.state(from_state).get("role") not in (None, APPLICANT)
    )


def form_field_names(service: Service) -> list[str]:
    return list(service.definition["form"]["schema"].get("properties", {}))


def document_codes(service: Service) -> list[str]:
    return [d["code"] for d in service.definition.get("documents", [])]


def asked_to_correct(service: Service, correct: Correct | None) -> dict[str, list[str]]:
    """The fields and documents named (all of them when not named), checked against the service."""
    correct = correct or Correct()
    errors: list[dict[str, Any]] = []
    asked: dict[str, list[str]] = {}
    for key, known, given in (
        ("fields", form_field_names(service), correct.fields),
        ("documents", document_codes(service), correct.documents),
    ):
        if given is None:
            asked[key] = known
            continue
        asked[key] = []
        for i, code in enumerate(given):
            if code not in known:
                errors.append(
                    {
                        "loc": ["body", CORRECT, key, i],
                        "msg": f"{code!r} is not one of this service's {key}; expected one of: {', '.join(known) or 'none'}",
                        "type": "enum",
                    }
                )
            elif code not in asked[key]:
                asked[key].append(code)
    if not errors and not asked["fields"] and not asked["documents"]:
        msg = "name at least one field or document to correct, or leave both out to ask for any correction"
        errors.append({"loc": ["body", CORRECT], "msg": msg, "type": "value_error"})
    if errors:
        raise Invalid(f"{len(errors)} field(s) are invalid", errors)
    return asked


@_one_flush
def take_action(
    session: Session,
    service: Service,
    app: Case,
    *,
    principal: Principal,
    action_code: str,
    comment: str | None,
    expected_version: int,
    now: datetime,
    correct: Correct | None = None,
) -> HistoryEntry:
    """Apply one action for ``principal``; every refusal raises before anything changes.

    An action that returns the case to the applicant records what they are asked to correct
    (``correct``: field and document codes, each ``None`` for all) in its history entry.
    """
    known = known_actions(service)
    if action_code not in known:
        allowed = [a["code"] for a in allowed_actions(service, app, principal, now)]
        raise Invalid(
            f"{action_code!r} is not an action of {service.code}",
            [
                {
                    "loc": ["body", "action"],
                    "msg": f"{action_code!r} is not an action of {service.code}; you may now: {', '.join(allowed) or 'nothing'}"
                    f"; its actions: {', '.join(known)}",
                    "type": "enum",
                    "allowed": allowed,
                }
            ],
        )
    require_version_match(app, expected_version)
    candidates = possible_actions(service, app, now)
    action = next((a for a in candidates if a["code"] == action_code), None)
    if action is None:
        allowed = [a["code"] for a in allowed_actions(service, app, principal, now)]
        raise NotAllowedNow(
            f"{action_code!r} cannot be taken in state {app.state!r}; you may: {', '.join(allowed) or 'nothing'}",
            extra={"current": {"version": app.version, "state": app.state}, "allowed": allowed},
        )
    acting_role = _acting_role(principal, app, action, roles_here(principal, app))
    if acting_role is None:
        raise Forbidden(f"{action_code!r} is taken by {', '.join(action['roles'])}; you hold none of those roles here")
    if action.get("comment_required") and not (comment or "").strip():
        raise Invalid(
            "a comment is required",
            [{"loc": ["body", "comment"], "msg": f"{action_code!r} needs a comment saying why", "type": "missing"}],
        )
    failed = _check_guards(session, app, action.get("guards", []), service)
    if failed:
        raise NotAllowedNow("; ".join(failed), extra={"current": {"version": app.version, "state": app.state}, "unmet": failed})
    step_data = None
    if action["code"] not in (APPEAL, ALLOW_APPEAL, DISMISS_APPEAL) and returns_to_applicant(service, app.state, action["to"]):
        step_data = {CORRECT: asked_to_correct(service, correct)}
    elif correct is not None:
        msg = f"{action_code!r} does not return the application to the applicant, so it asks for no correction"
        raise Invalid(msg, [{"loc": ["body", "correct"], "msg": msg, "type": "value_error"}])

    clock = Clock.for_application(session, app)
    from_state = app.state
    for effect in action.get("effects", []):
        _registered(EFFECTS, "effect", effect)(session, service, app, principal, now)
    appeals = service.workflow.get("appeals") or {}
    if action_code == APPEAL:
        app.appeal_level += 1
        app.is_open = True
        emit(session, events.Appealed(case=app, service=service, at=now, level=app.appeal_level))
        enter_state(session, service, app, FIRST_APPEAL if app.appeal_level == 1 else SECOND_APPEAL, now, clock)
    elif action_code == ALLOW_APPEAL:
        enter_state(session, service, app, appeals.get("allow_to", service.workflow["start"]), now, clock)
    elif action_code == DISMISS_APPEAL:
        enter_state(session, service, app, APPEAL_DISMISSED, now, clock)
    elif action["to"] != STAY:
        enter_state(session, service, app, action["to"], now, clock)
    entry = _history(
        session,
        service,
        app,
        action=action_code,
        from_state=from_state,
        to_state=app.state,
        actor_id=principal.user_id,
        actor_role=acting_role,
        comment=comment,
        now=now,
        data=step_data,
    )
    emit(
        session,
        events.ActionTaken(
            case=app, service=service, at=now, action=action_code, role=acting_role, from_state=from_state, to_state=app.state
        ),
    )
    return entry


@_one_flush
def submit(session: Session, service: Service, app: Case, *, principal: Principal, data: dict[str, Any], now: datetime) -> None:
    """Start the clock: first state, due times, fees; approve at once when the applicant self-certifies.

    With a fee, self-certified approval waits for payment: ``Submitted.approve_to`` tells
    payments which state the paid demand moves the case to.
    """
    clock = Clock.for_application(session, app)
    lines = assess_fees(service.definition.get("fees"), data, now.astimezone(clock.zone).date())
    app.fee_lines = [
        {"code": ln.code, "name": ln.name, "head": ln.head, "amount": ln.amount, "waived_by": ln.waived_by}
        | ({"account": ln.account} if ln.account else {})
        for ln in lines
    ]
    app.fee_total = total(lines)
    app.fee_paid = app.fee_total == 0
    app.submitted_at = now
    app.service_due_at = clock.due(now, service.workflow["sla_days"])
    role = APPLICANT if acts_as_applicant(principal, app) else SYSTEM
    enter_state(session, service, app, service.workflow["start"], now, clock)
    _history(
        session,
        service,
        app,
        action=SUBMIT,
        from_state=DRAFT,
        to_state=app.state,
        actor_id=principal.user_id,
        actor_role=role,
        comment=None,
        now=now,
    )
    self_cert = service.workflow.get("self_certification")
    certified = bool(self_cert and all_hold(self_cert["when"], data, now.astimezone(clock.zone).date()))
    approve_to = self_cert["to"] if certified and self_cert else None
    emit(session, events.Submitted(case=app, service=service, at=now, approve_to=approve_to))
    if approve_to is not None and app.fee_total == 0:
        self_certify(session, service, app, approve_to, now)


def self_certify(session: Session, service: Service, app: Case, to_state: str, now: datetime) -> None:
    """Approve at once on the applicant's self-certification (at submission, or once the fee is paid)."""
    before = app.state
    enter_state(session, service, app, to_state, now, Clock.for_application(session, app))
    _history(
        session,
        service,
        app,
        action="self_certified",
        from_state=before,
        to_state=app.state,
        actor_id=None,
        actor_role=SYSTEM,
        comment="approved on the applicant's self-certification",
        now=now,
    )


def record_step(
    session: Session,
    service: Service,
    app: Case,
    *,
    action: str,
    to_state: str,
    actor_id: str | None,
    actor_role: str,
    comment: str | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> HistoryEntry:
    """A history entry (announced: the ledger records it) for a step outside the workflow's actions, such as a payment."""
    return _history(
        session,
        service,
        app,
        action=action,
        from_state=app.state,
        to_state=to_state,
        actor_id=actor_id,
        actor_role=actor_role,
        comment=comment,
        now=now,
        data=data,
    )


def compensation_owed(breach: Breach, app: Case, clock: Clock, now: datetime) -> int:
    if breach.kind != "service" or not breach.compensation_per_day:
        return 0
    end = app.decided_at or now
    days = clock.working_days_between(breach.due_at, end)
    return min(breach.compensation_cap, days * breach.compensation_per_day)


def sweep(
    session: Session, now: datetime, case_type: Any, load_service: Callable[[Session, Any], Service], *, limit: int = 500
) -> dict[str, int]:
    """Escalate cases of ``case_type`` (a mapped class) whose state limit passed; record breaches of the service's limit."""
    counts = {"escalated": 0, "service_breaches": 0}
    overdue = session.scalars(
        select(case_type)
        .where(case_type.is_open.is_(True), case_type.state_due_at < now, case_type.state_escalated.is_(False))
        .order_by(case_type.state_due_at)
        .limit(limit)
    )
    for app in list(overdue):
        service = load_service(session, app)
        state = service.state(app.state)
        target = state.get("escalate_to")
        breach = Breach(
            application_id=app.id,
            local_body_code=app.local_body_code,
            kind="state",
            state=app.state,
            due_at=app.state_due_at,
            detected_at=now,
            escalated_to=target,
        )
        session.add(breach)
        app.breach_count += 1
        app.state_escalated = True
        emit(session, events.Breached(case=app, service=service, at=now, breach=breach))
        if target and state.get("role") != APPLICANT:
            before = app.assigned_role
            app.assigned_role = target
            app.assigned_to_id = least_loaded_officer(session, app, target)
            _history(
                session,
                service,
                app,
                action=ESCALATE,
                from_state=app.state,
                to_state=app.state,
                actor_id=None,
                actor_role=SYSTEM,
                comment=f"time limit passed; moved from {before} to {target}",
                now=now,
                data={"due_at": app.state_due_at.isoformat() if app.state_due_at else None},
            )
            counts["escalated"] += 1
    late = session.scalars(
        select(case_type)
        .where(
            case_type.is_open.is_(True),
            case_type.service_due_at < now,
            case_type.service_breached.is_(False),
            case_type.paused_at.is_(None),
        )
        .limit(limit)
    )
    for app in list(late):
        service = load_service(session, app)
        comp = service.workflow.get("compensation") or {}
        breach = Breach(
            application_id=app.id,
            local_body_code=app.local_body_code,
            kind="service",
            state=app.state,
            due_at=app.service_due_at,
            detected_at=now,
            compensation_per_day=comp.get("per_day", 0),
            compensation_cap=comp.get("cap", 0),
        )
        session.add(breach)
        app.breach_count += 1
        app.service_breached = True
        emit(session, events.Breached(case=app, service=service, at=now, breach=breach))
        counts["service_breaches"] += 1
    session.flush()
    return counts


# --- levels: cases that climb L1 -> L2 -> L3 when a level's time passes (grievances) ----------


class LevelledCase(Case, Protocol):
    """A case handled level by level: ``level`` 1 is the first handler; the sweep moves it up."""

    level: int


def assign_level(session: Session, app: Any, *, role: str, days: int, now: datetime, clock: Clock | None = None) -> None:
    """Hand the case to the least-loaded active holder of ``role`` here, due ``days`` working days from ``now``."""
    clock = clock or Clock.for_application(session, app)
    app.assigned_role = role
    app.assigned_to_id = least_loaded_officer(session, app, role)
    app.state_due_at = clock.due(now, days)
    app.state_escalated = False


def overdue(session: Session, case_type: Any, now: datetime, *, limit: int = 500) -> list[Any]:
    """Open cases of ``case_type`` whose current time limit passed and that were not moved for it yet."""
    return list(
        session.scalars(
            select(case_type)
            .where(case_type.is_open.is_(True), case_type.state_due_at < now, case_type.state_escalated.is_(False))
            .order_by(case_type.state_due_at)
            .limit(limit)
        )
    )


@_one_flush
def escalate_level(
    session: Session, service: Service, app: Any, *, level: int | None, role: str | None, days: int | None, now: datetime
) -> Any:
    """The sweep's step for a levelled case whose time passed: up to ``level`` (held by ``role``, due in
    ``days`` working days), or, with ``level`` None at the last level, marked overdue where it is."""
    due_was = app.state_due_at
    app.breach_count += 1
    data = {"due_at": due_was.isoformat() if due_was else None, "from_level": app.level}
    if level is None or role is None or days is None:
        app.state_escalated = True
        comment = f"time limit of level {app.level} passed; there is no higher level"
        return _history(
            session, service, app, action="overdue", from_state=app.state, to_state=app.state,
            actor_id=None, actor_role=SYSTEM, comment=comment, now=now, data=data,
        )  # fmt: skip
    before = app.assigned_role
    app.level = level
    assign_level(session, app, role=role, days=days, now=now)
    comment = f"time limit passed; moved from level {data['from_level']} ({before}) to level {level} ({role})"
    return _history(
        session, service, app, action=ESCALATE, from_state=app.state, to_state=app.state,
        actor_id=None, actor_role=SYSTEM, comment=comment, now=now, data={**data, "level": level},
    )  # fmt: skip


def require_version_match(app: Case, expected: int | None) -> None:
    if expected is not None and expected != app.version:
        raise PreconditionFailed(
            f"the application is at version {app.version} (state {app.state!r}), not {expected}; reload it and try again",
            extra={"current": {"version": app.version, "state": app.state}},
        )


def conflict_if_not_draft(app: Case) -> None:
    if app.submitted_at is not None:
        raise Conflict(
            "the application is already submitted; only drafts can be changed",
            extra={"current": {"version": app.version, "state": app.state}},
        )

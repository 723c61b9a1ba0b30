"""Applying workflow actions: who may, from which state, with which guards and effects.

Every action is applied inside the caller's unit of work: the application row
(with its version checked), one history entry and the audit event commit or
roll back together. Due times count working days on the local body's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from nagara.applications.models import Application, Document
from nagara.catalog.definitions import (
    ALLOW_APPEAL,
    APPEAL,
    APPEAL_DISMISSED,
    APPLICANT,
    DISMISS_APPEAL,
    ESCALATE,
    FIRST_APPEAL,
    SECOND_APPEAL,
    STAY,
    SUBMIT,
    Service,
)
from nagara.catalog.rules import all_hold
from nagara.identity.models import RoleAssignment, User
from nagara.kit.access import Principal
from nagara.kit.calendar import WorkingCalendar
from nagara.kit.errors import Conflict, Forbidden, Invalid, Problem
from nagara.ledger import service as ledger
from nagara.tenancy.models import State
from nagara.tenancy.service import working_calendar
from nagara.workflow.models import Breach, HistoryEntry

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
    def for_application(cls, session: Session, app: Application) -> Clock:
        state = session.get(State, app.state_code)
        return cls(working_calendar(session, app.local_body_code), ZoneInfo(state.timezone if state else "Asia/Kolkata"))

    def due(self, start: datetime, working_days: int) -> datetime:
        """The end of the office day ``working_days`` working days after ``start``."""
        local_day = start.astimezone(self.zone).date()
        day = self.calendar.add_working_days(local_day, working_days)
        return datetime.combine(day, time(23, 59, 59), self.zone).astimezone(UTC)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        return self.calendar.working_days_between(start.astimezone(self.zone).date(), end.astimezone(self.zone).date())


def roles_here(principal: Principal, app: Application) -> set[str]:
    """The roles the principal holds over this application, and ``applicant`` for its owner."""
    roles = {
        g.role for g in principal.grants if g.scope != "self" and g.covers(app.state_code, app.local_body_code, app.ward_code)
    }
    if principal.user_id in (app.applicant_id, app.filed_by_id):
        roles.add(APPLICANT)
    return roles


def _permission_for(action_code: str) -> str:
    return "applications:appeal:decide" if action_code in (ALLOW_APPEAL, DISMISS_APPEAL) else "applications:application:act"


def _appeal_window_open(service: Service, app: Application, now: datetime) -> bool:
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


def possible_actions(service: Service, app: Application, now: datetime) -> list[dict[str, Any]]:
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


def allowed_actions(service: Service, app: Application, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    roles = roles_here(principal, app)
    out = []
    for action in possible_actions(service, app, now):
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
                out.append(action)
                break
    return out


def least_loaded_officer(session: Session, app: Application, role: str) -> str | None:
    """The active officer holding ``role`` here with the fewest open applications."""
    holders = (
        select(RoleAssignment.user_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.role_code == role,
            RoleAssignment.state_code == app.state_code,
            or_(RoleAssignment.local_body_code == app.local_body_code, RoleAssignment.local_body_code.is_(None)),
            or_(RoleAssignment.ward_code.is_(None), RoleAssignment.ward_code == app.ward_code),
            User.is_active.is_(True),
            User.kind == "officer",
        )
    )
    candidates = list(session.scalars(holders.limit(2)))
    if len(candidates) < 2:  # nobody, or one officer: no need to count anyone's work
        return str(candidates[0]) if candidates else None
    load = (
        select(Application.assigned_to_id, func.count().label("n"))
        .where(Application.is_open.is_(True), Application.assigned_to_id.in_(holders))
        .group_by(Application.assigned_to_id)
        .subquery()
    )
    row = session.execute(
        select(RoleAssignment.user_id, func.coalesce(load.c.n, 0).label("n"))
        .where(RoleAssignment.user_id.in_(holders))
        .outerjoin(load, load.c.assigned_to_id == RoleAssignment.user_id)
        .order_by(func.coalesce(load.c.n, 0), RoleAssignment.user_id)
        .limit(1)
    ).first()
    return str(row.user_id) if row else None


def _history(
    session: Session,
    app: Application,
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
    seq = int(
        session.scalar(select(func.coalesce(func.max(HistoryEntry.seq), 0)).where(HistoryEntry.application_id == app.id)) or 0
    )
    entry = HistoryEntry(
        application_id=app.id,
        seq=seq + 1,
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
    _record_in_ledger(session, app, entry)
    return entry


def _record_in_ledger(session: Session, app: Application, entry: HistoryEntry) -> None:
    """Every workflow action goes to the public ledger in the same transaction (roles, never people)."""
    ledger.append(
        session,
        type="application.action",
        tenant_code=app.local_body_code,
        subject=app.number,
        content={
            "seq": entry.seq,
            "action": entry.action,
            "from": entry.from_state,
            "to": entry.to_state,
            "at": entry.at.isoformat(),
        },
        actor_role=entry.actor_role,
    )


def enter_state(session: Session, service: Service, app: Application, state: str, now: datetime, clock: Clock) -> None:
    """Move to ``state``: due time, holder, outcome, and the paused service clock."""
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
        if app.fee_total > 0 and not app.fee_paid and app.outcome != "approved":
            from nagara.payments.demands import cancel_for_application

            cancel_for_application(session, app)  # nothing is owed for a refused or withdrawn application
        if app.outcome == "approved" and service.definition.get("output"):
            from nagara.certificates.service import issue_on_approval  # the certificate commits with the approval

            issue_on_approval(session, service, app, now)
        return
    if app.appeal_level > 0 and app.fee_total > 0 and not app.fee_paid:
        from nagara.payments.demands import reopen_for_application

        reopen_for_application(session, app)  # an allowed appeal reopens the application, and its fee
    app.is_open = True
    app.outcome = None
    app.decided_at = None
    role = target["role"]
    app.assigned_role = role
    app.assigned_to_id = None if role == APPLICANT else least_loaded_officer(session, app, role)


def _check_guards(session: Session, app: Application, guards: list[str], service: Service) -> list[str]:
    failed = []
    docs = list(session.scalars(select(Document).where(Document.application_id == app.id)))
    if "documents_complete" in guards or "documents_verified" in guards:
        from nagara.applications.documents import missing_documents

        missing = missing_documents(service, app, docs)
        if missing:
            failed.append(f"required documents missing: {', '.join(missing)}")
    if "documents_verified" in guards and any(d.verified_at is None for d in docs):
        failed.append("documents are not yet verified")
    if "fee_paid" in guards and app.fee_total > 0 and not app.fee_paid:
        failed.append(f"the fee of Rs {app.fee_total / 100:.2f} is not paid")
    return failed


def take_action(
    session: Session,
    service: Service,
    app: Application,
    *,
    principal: Principal,
    action_code: str,
    comment: str | None,
    expected_version: int,
    now: datetime,
) -> HistoryEntry:
    """Apply one action for ``principal``; every refusal raises before anything changes."""
    require_version_match(app, expected_version)
    candidates = possible_actions(service, app, now)
    action = next((a for a in candidates if a["code"] == action_code), None)
    if action is None:
        allowed = [a["code"] for a in allowed_actions(service, app, principal, now)]
        raise NotAllowedNow(
            f"{action_code!r} cannot be taken in state {app.state!r}; you may: {', '.join(allowed) or 'nothing'}",
            extra={"current": {"version": app.version, "state": app.state}, "allowed": allowed},
        )
    roles = roles_here(principal, app)
    acting_role = None
    for role in action["roles"]:
        if role not in roles:
            continue
        if role == APPLICANT or principal.may(
            _permission_for(action_code), state_code=app.state_code, local_body_code=app.local_body_code, ward_code=app.ward_code
        ):
            acting_role = role
            break
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

    clock = Clock.for_application(session, app)
    from_state = app.state
    for effect in action.get("effects", []):
        if effect == "verify_documents":
            for doc in session.scalars(select(Document).where(Document.application_id == app.id, Document.verified_at.is_(None))):
                doc.verified_at = now
                doc.verified_by_id = principal.user_id
        elif effect == "record_fee_payment" and app.fee_total > 0 and not app.fee_paid:
            # Money is recorded only as a payment with a receipt: the counter payment marks the fee paid.
            from nagara.payments.demands import demand_number_of

            raise NotAllowedNow(
                f"the fee of Rs {app.fee_total / 100:.2f} is not paid; record it at the counter "
                f"(POST /api/v1/demands/{demand_number_of(session, app)}/counter-payments, cash, cheque or DD): "
                "the receipt marks the fee paid",
                extra={"current": {"version": app.version, "state": app.state}},
            )
    appeals = service.workflow.get("appeals") or {}
    if action_code == APPEAL:
        app.appeal_level += 1
        app.is_open = True
        enter_state(session, service, app, FIRST_APPEAL if app.appeal_level == 1 else SECOND_APPEAL, now, clock)
    elif action_code == ALLOW_APPEAL:
        enter_state(session, service, app, appeals.get("allow_to", service.workflow["start"]), now, clock)
    elif action_code == DISMISS_APPEAL:
        enter_state(session, service, app, APPEAL_DISMISSED, now, clock)
    elif action["to"] != STAY:
        enter_state(session, service, app, action["to"], now, clock)
    entry = _history(
        session,
        app,
        action=action_code,
        from_state=from_state,
        to_state=app.state,
        actor_id=principal.user_id,
        actor_role=acting_role,
        comment=comment,
        now=now,
    )
    session.flush()
    return entry


def submit(
    session: Session, service: Service, app: Application, *, principal: Principal, data: dict[str, Any], now: datetime
) -> None:
    """Start the clock: first state, due times, fees; approve at once when the applicant self-certifies."""
    from nagara.catalog.rules import assess_fees, total

    clock = Clock.for_application(session, app)
    lines = assess_fees(service.definition.get("fees"), data, now.astimezone(clock.zone).date())
    app.fee_lines = [
        {"code": ln.code, "name": ln.name, "head": ln.head, "amount": ln.amount, "waived_by": ln.waived_by} for ln in lines
    ]
    app.fee_total = total(lines)
    app.fee_paid = app.fee_total == 0
    app.submitted_at = now
    app.service_due_at = clock.due(now, service.workflow["sla_days"])
    role = APPLICANT if principal.user_id in (app.applicant_id, app.filed_by_id) else SYSTEM
    enter_state(session, service, app, service.workflow["start"], now, clock)
    _history(
        session,
        app,
        action=SUBMIT,
        from_state="draft",
        to_state=app.state,
        actor_id=principal.user_id,
        actor_role=role,
        comment=None,
        now=now,
    )
    self_cert = service.workflow.get("self_certification")
    certified = bool(self_cert and all_hold(self_cert["when"], data, now.astimezone(clock.zone).date()))
    if app.fee_total > 0:
        from nagara.payments.demands import raise_for_application

        # Self-certified approval waits for the fee: the demand carries the state to move to once paid.
        raise_for_application(session, app, then_state=self_cert["to"] if certified and self_cert else None, now=now)
    elif certified and self_cert:
        self_certify(session, service, app, self_cert["to"], now)
    session.flush()


def self_certify(session: Session, service: Service, app: Application, to_state: str, now: datetime) -> None:
    """Approve at once on the applicant's self-certification (at submission, or once the fee is paid)."""
    before = app.state
    enter_state(session, service, app, to_state, now, Clock.for_application(session, app))
    _history(
        session,
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
    app: Application,
    *,
    action: str,
    to_state: str,
    actor_id: str | None,
    actor_role: str,
    comment: str | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> HistoryEntry:
    """A history entry (and its ledger entry) for a step taken outside the workflow's actions, such as a payment."""
    return _history(
        session,
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


def compensation_owed(breach: Breach, app: Application, clock: Clock, now: datetime) -> int:
    if breach.kind != "service" or not breach.compensation_per_day:
        return 0
    end = app.decided_at or now
    days = clock.working_days_between(breach.due_at, end)
    return min(breach.compensation_cap, days * breach.compensation_per_day)


def sweep(session: Session, now: datetime, load_service: Any, *, limit: int = 500) -> dict[str, int]:
    """Escalate applications whose state limit passed; record breaches of the service's limit."""
    counts = {"escalated": 0, "service_breaches": 0}
    overdue = session.scalars(
        select(Application)
        .where(Application.is_open.is_(True), Application.state_due_at < now, Application.state_escalated.is_(False))
        .order_by(Application.state_due_at)
        .limit(limit)
    )
    for app in list(overdue):
        service: Service = load_service(session, app)
        state = service.state(app.state)
        target = state.get("escalate_to")
        session.add(
            Breach(
                application_id=app.id,
                local_body_code=app.local_body_code,
                kind="state",
                state=app.state,
                due_at=app.state_due_at,
                detected_at=now,
                escalated_to=target,
            )
        )
        app.state_escalated = True
        if target and state.get("role") != APPLICANT:
            before = app.assigned_role
            app.assigned_role = target
            app.assigned_to_id = least_loaded_officer(session, app, target)
            _history(
                session,
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
        select(Application)
        .where(
            Application.is_open.is_(True),
            Application.service_due_at < now,
            Application.service_breached.is_(False),
            Application.paused_at.is_(None),
        )
        .limit(limit)
    )
    for app in list(late):
        service = load_service(session, app)
        comp = service.workflow.get("compensation") or {}
        session.add(
            Breach(
                application_id=app.id,
                local_body_code=app.local_body_code,
                kind="service",
                state=app.state,
                due_at=app.service_due_at,
                detected_at=now,
                compensation_per_day=comp.get("per_day", 0),
                compensation_cap=comp.get("cap", 0),
            )
        )
        app.service_breached = True
        counts["service_breaches"] += 1
    session.flush()
    return counts


def require_version_match(app: Application, expected: int | None) -> None:
    if expected is not None and expected != app.version:
        raise PreconditionFailed(
            f"the application is at version {app.version} (state {app.state!r}), not {expected}; reload it and try again",
            extra={"current": {"version": app.version, "state": app.state}},
        )


def conflict_if_not_draft(app: Application) -> None:
    if app.submitted_at is not None:
        raise Conflict(
            "the application is already submitted; only drafts can be changed",
            extra={"current": {"version": app.version, "state": app.state}},
        )

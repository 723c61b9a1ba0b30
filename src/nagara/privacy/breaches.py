"""The register of personal data breaches (DPDP Rules 2025, Rule 7), kept by the Data Protection Officer.

On becoming aware of a breach the fiduciary intimates, without delay, each affected person (what
happened, when and where, the likely consequences, what is being done, what they can do, whom to
ask) and the Board; within 72 hours it gives the Board a detailed report of six items
(:data:`REPORT_ITEMS`). A cyber incident is reported to CERT-In within 6 hours (CERT-In Directions
of 28 April 2022). :func:`due` lists each of these with its due time for the workbench.

Affected people are told through the portal inbox, in their own language; the message names the
breach's reference, never another person's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.identity.models import User
from nagara.kit.access import Principal, require, scope
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Conflict, Invalid, NotFound
from nagara.kit.text import strip_bidi
from nagara.notifications.models import Notification
from nagara.privacy.models import Breach, BreachPerson
from nagara.tenancy.context import parse_tenant, place
from nagara.web.i18n import N_, translations

MANAGE = "privacy:breach:manage"
BOARD_REPORT_WITHIN = timedelta(hours=72)
CERT_IN_WITHIN = timedelta(hours=6)
NOTICE_EVENT = "privacy_breach"
NOTICE_LIFE = timedelta(days=365)

# Rule 7(2)(b): the detailed report to the Board.
REPORT_ITEMS = (
    "description",  # updated and detailed information on the breach
    "facts",  # the broad facts of the events, circumstances and reasons leading to it
    "mitigation",  # measures implemented or proposed to mitigate risk
    "findings",  # findings regarding the person who caused it
    "remedial",  # remedial measures taken to prevent its recurrence
    "intimations",  # a report on the intimations given to the affected people
)

NOTICE_SUBJECT = N_("A breach of your personal data (%(reference)s)")
NOTICE_BODY = N_(
    "Your personal data held by the local government was affected by a breach. What happened: %(description)s "
    "Likely consequences: %(consequences)s What is being done: %(measures)s What you can do: %(safety)s "
    "Questions: %(contact)s You may also complain to the Data Protection Board of India."
)


def _text(value: str, field: str, *, limit: int, required: bool = True) -> str:
    text = strip_bidi(value or "").strip()
    if (required and not text) or len(text) > limit:
        raise Invalid(
            f"invalid {field}",
            [
                {
                    "loc": [field],
                    "msg": f"1 to {limit} characters" if required else f"at most {limit} characters",
                    "type": "value_error",
                }
            ],
        )
    return text


def _get(session: Session, principal: Principal, breach_id: str, *, lock: bool = False) -> Breach:
    row = session.get(Breach, breach_id[:36], with_for_update=lock)
    if row is None or not principal.may(MANAGE, state_code=row.state_code, local_body_code=row.local_body_code):
        raise NotFound(f"no breach {breach_id[:36]!r} in your register")
    return row


def record(
    session: Session,
    principal: Principal,
    *,
    tenant: str,
    title: str,
    description: str,
    discovered_at: datetime | None = None,
    occurred_at: datetime | None = None,
    data_categories: list[str] | None = None,
    people_categories: list[str] | None = None,
    measures: str = "",
) -> Breach:
    """Enter a breach in the register; its clocks run from when it was discovered (now, if not said)."""
    code = parse_tenant(tenant)
    require(principal, MANAGE, state_code=code.state, local_body_code=code.local_body)
    place(session, tenant)
    now = utcnow()
    discovered = discovered_at or now
    if discovered > now or (occurred_at is not None and occurred_at > discovered):
        raise Invalid(
            "invalid times",
            [{"loc": ["discovered_at"], "msg": "not in the future, and not before it occurred", "type": "value_error"}],
        )
    row = Breach(
        id=new_id(),
        state_code=code.state,
        local_body_code=code.local_body,
        title=_text(title, "title", limit=200),
        description=_text(description, "description", limit=5000),
        discovered_at=discovered,
        occurred_at=occurred_at,
        data_categories=[_text(c, "data_categories", limit=100) for c in data_categories or []],
        people_categories=[_text(c, "people_categories", limit=100) for c in people_categories or []],
        measures=_text(measures, "measures", limit=5000, required=False),
        recorded_by=principal.user_id,
        board_report_due_at=discovered + BOARD_REPORT_WITHIN,
        cert_in_due_at=discovered + CERT_IN_WITHIN,
    )
    session.add(row)
    session.flush()
    return row


def assess(
    session: Session,
    principal: Principal,
    breach_id: str,
    *,
    applications: list[str] | None = None,
    users: list[str] | None = None,
    data_categories: list[str] | None = None,
    people_categories: list[str] | None = None,
    measures: str | None = None,
    consequences: str | None = None,
    safety_steps: str | None = None,
    contact: str | None = None,
) -> Breach:
    """Add what the assessment found: the people affected (by application number or user id) and what to tell them."""
    row = _get(session, principal, breach_id, lock=True)
    affected: set[str] = set()
    if applications:
        query = select(Application.number, Application.applicant_id).where(
            Application.number.in_(applications), Application.state_code == row.state_code
        )
        found = {row.number: row.applicant_id for row in session.execute(query)}
        missing = sorted(set(applications) - set(found))
        if missing:
            raise Invalid(
                "unknown applications",
                [{"loc": ["applications"], "msg": f"no applications {missing} in this state", "type": "value_error"}],
            )
        affected |= {a for a in found.values() if a}
    if users:
        known = set(session.scalars(select(User.id).where(User.id.in_(users))))
        if set(users) - known:
            raise Invalid("unknown users", [{"loc": ["users"], "msg": "unknown user ids", "type": "value_error"}])
        affected |= known
    have = set(session.scalars(select(BreachPerson.user_id).where(BreachPerson.breach_id == row.id)))
    for user_id in sorted(affected - have):
        session.add(BreachPerson(id=new_id(), breach_id=row.id, user_id=user_id))
    if data_categories is not None:
        row.data_categories = [_text(c, "data_categories", limit=100) for c in data_categories]
    if people_categories is not None:
        row.people_categories = [_text(c, "people_categories", limit=100) for c in people_categories]
    for field, value in (("measures", measures), ("consequences", consequences), ("safety_steps", safety_steps)):
        if value is not None:
            setattr(row, field, _text(value, field, limit=5000, required=False))
    if contact is not None:
        row.contact = _text(contact, "contact", limit=200, required=False)
    session.flush()
    return row


def notify_people(session: Session, principal: Principal, breach_id: str) -> int:
    """Tell each affected person not yet told, in their language, through the portal. Returns how many were told."""
    row = _get(session, principal, breach_id, lock=True)
    missing = [f for f in ("measures", "consequences", "safety_steps", "contact") if not getattr(row, f)]
    if missing:
        raise Conflict(f"assess the breach first: what to tell people needs {', '.join(missing)}")
    people = session.execute(
        select(BreachPerson, User.language)
        .join(User, User.id == BreachPerson.user_id)
        .where(BreachPerson.breach_id == row.id, BreachPerson.notified_at.is_(None))
    ).all()
    now = utcnow()
    languages = place(session, row.state_code).state.languages
    for person, language in people:
        lang = language or languages[0]
        t = translations(lang)
        values = {
            "reference": row.id[:8],
            "description": row.description,
            "consequences": row.consequences,
            "measures": row.measures,
            "safety": row.safety_steps,
            "contact": row.contact,
        }
        notice = Notification(
            id=new_id(),
            user_id=person.user_id,
            state_code=row.state_code,
            local_body_code=row.local_body_code,
            event=NOTICE_EVENT,
            channel="portal",
            language=lang,
            urgent=True,
            statutory=True,
            dedupe_key=f"breach:{row.id}:{person.user_id}:portal",
            subject=t.gettext(NOTICE_SUBJECT) % values,
            body=t.gettext(NOTICE_BODY) % values,
            variables={"reference": values["reference"]},
            status="delivered",
            delivered_at=now,
            expires_at=now + NOTICE_LIFE,
            created_at=now,
        )
        session.add(notice)
        person.notified_at = now
        person.notice_id = notice.id
    if people or row.principals_notified_at is None:
        row.principals_notified_at = now
    session.flush()
    return len(people)


def intimate_board(session: Session, principal: Principal, breach_id: str) -> Breach:
    """Record that the Board was intimated (through its portal); once."""
    row = _get(session, principal, breach_id, lock=True)
    if row.board_intimated_at is None:
        row.board_intimated_at = utcnow()
        session.flush()
    return row


def report_cert_in(session: Session, principal: Principal, breach_id: str) -> Breach:
    """Record that the incident was reported to CERT-In; once."""
    row = _get(session, principal, breach_id, lock=True)
    if row.cert_in_reported_at is None:
        row.cert_in_reported_at = utcnow()
        session.flush()
    return row


def submit_report(session: Session, principal: Principal, breach_id: str, report: dict[str, str]) -> Breach:
    """The detailed report to the Board: every one of the six items of Rule 7(2)(b), after intimating the Board."""
    row = _get(session, principal, breach_id, lock=True)
    errors = [
        {"loc": ["report", item], "msg": "required: 1 to 10000 characters", "type": "value_error"}
        for item in REPORT_ITEMS
        if not strip_bidi(str(report.get(item) or "")).strip() or len(str(report.get(item))) > 10000
    ]
    errors += [
        {"loc": ["report", k], "msg": f"one of {', '.join(REPORT_ITEMS)}", "type": "value_error"}
        for k in report
        if k not in REPORT_ITEMS
    ]
    if errors:
        raise Invalid("the detailed report needs its six items", errors)
    if row.board_intimated_at is None:
        raise Conflict("intimate the Board of the breach first")
    row.report = {item: strip_bidi(str(report[item])).strip() for item in REPORT_ITEMS}
    row.report_submitted_at = utcnow()
    session.flush()
    return row


@dataclass(frozen=True)
class Due:
    what: str  # cert_in | board_intimation | people | board_report
    due_at: datetime
    done_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        return (self.done_at is None and now >= self.due_at) or (self.done_at is not None and self.done_at > self.due_at)


def due(row: Breach) -> list[Due]:
    """What the Rules ask and by when: intimations "without delay" are due when the breach is discovered."""
    return [
        Due("board_intimation", row.discovered_at, row.board_intimated_at),
        Due("people", row.discovered_at, row.principals_notified_at),
        Due("cert_in", row.cert_in_due_at, row.cert_in_reported_at),
        Due("board_report", row.board_report_due_at, row.report_submitted_at),
    ]


def register(session: Session, principal: Principal) -> list[Breach]:
    """The breaches in the caller's jurisdiction, newest discovery first."""
    query = (
        select(Breach)
        .where(scope(principal, MANAGE, state_col=Breach.state_code, local_body_col=Breach.local_body_code))
        .order_by(Breach.discovered_at.desc(), Breach.id)
        .limit(500)
    )
    return list(session.scalars(query))


def get(session: Session, principal: Principal, breach_id: str) -> Breach:
    return _get(session, principal, breach_id)


def affected(session: Session, breach: Breach) -> list[BreachPerson]:
    return list(session.scalars(select(BreachPerson).where(BreachPerson.breach_id == breach.id).order_by(BreachPerson.user_id)))

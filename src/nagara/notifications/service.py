"""Notifications: who is told what, on which channels, when, and what became of each message.

How a step becomes messages:

1. The workflow engine announces every step of an application (``StepRecorded``) inside the
   step's transaction. :func:`queue_step` (subscribed in ``nagara/domains.py``) adds a
   ``notifications.step`` job to the outbox there, for the steps that may tell someone something
   (:func:`may_speak`: the event and its service say so, without a statement): a rolled-back step
   leaves no job, a committed one leaves its job, however late its transaction commits. The job
   (:func:`on_step_job`) decides which event the step is (:func:`event_of`) and writes the messages:
   one per person and channel, its key (``dedupe_key``) the step's, so a step gives a person at
   most one message per channel, and a job run again finds its messages written and writes none.
   A grievance's steps come the same way (``grievances.events``, :func:`on_grievance`), and a
   breach (the sweep, no request) through the outbox job ``notifications.breached``.
2. A portal message is delivered when written. Each message for an outside channel gets a
   ``notifications.send`` job (:func:`send`), to run at once, or when the state's quiet hours end
   for a message that is not urgent on SMS or WhatsApp.
3. :func:`send` hands the message to the provider with the message's id as idempotency key, and
   records the answer: ``delivered`` (e-mail accepted by the SMTP server), ``sending`` (SMS and
   WhatsApp accepted; the provider's signed receipt says ``delivered`` or a failure later),
   ``temporary-failure`` (retried with backoff while its useful life lasts, at most
   :data:`MAX_ATTEMPTS` times), ``permanent-failure`` (not retried; the person's next channel
   gets the message instead, when they have one), ``technical-failure`` (no sender, no address).
   If the process dies during a send, the job's lease runs out and it runs again: the message is
   sent once more with the same idempotency key, and the provider drops the duplicate (at least
   once, made exactly once by the provider's idempotency).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import random
import re
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.catalog.service import service_of
from nagara.certificates.models import Certificate
from nagara.grievances.events import Assigned, Escalated, Filed, GrievanceEvent, Merged, Resolved
from nagara.grievances.models import Grievance
from nagara.identity.models import User
from nagara.kit.access import Principal
from nagara.kit.api import MAX_OFFSET
from nagara.kit.crypto import derive_key
from nagara.kit.db import new_id, utcnow
from nagara.kit.errors import Conflict, Invalid, NotFound
from nagara.kit.mail import MailRefused
from nagara.notifications.models import CHANNELS, EXTERNAL, Notification, Preference
from nagara.notifications.templates import EVENTS, render
from nagara.payments.models import Demand
from nagara.runtime import Runtime, runtime_of
from nagara.tenancy.context import for_pack, place
from nagara.tenancy.models import State
from nagara.worker.registry import enqueue, task
from nagara.workflow import engine
from nagara.workflow.events import Breached, StepRecorded
from nagara.workflow.models import Breach, HistoryEntry

log = logging.getLogger("nagara.notifications")

MAX_ATTEMPTS = 5
LIFE = {"sign_in_code": timedelta(minutes=10), "digest": timedelta(hours=12)}
DEFAULT_LIFE = timedelta(days=3)
CITIZEN_DEFAULT = ("sms", "portal")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
OFFICER_DEFAULT = ("portal",)


def invalid(where: str, field: str, msg: str) -> Invalid:
    return Invalid(msg, [{"loc": [where, field], "msg": msg, "type": "value_error"}])


# --- the pack's templates --------------------------------------------------------------------------


def document(session: Session, state_code: str) -> dict[str, Any]:
    """The state's notifications.yaml as loaded (kept until the pack changes)."""

    def load() -> dict[str, Any]:
        state = session.get(State, state_code)
        if state is None or not state.notifications:
            raise NotFound(f"state {state_code!r} has no notification templates loaded; load its pack again")
        return dict(state.notifications)

    return for_pack(session, state_code, "notifications.document", load)


def quiet_until(document: dict[str, Any], zone: ZoneInfo, now: datetime) -> datetime:
    """``now``, or the end of the state's quiet hours when ``now`` falls within them."""
    quiet = document["quiet_hours"]
    start, end = time.fromisoformat(quiet["from"]), time.fromisoformat(quiet["until"])
    local = now.astimezone(zone)
    t = local.time()
    inside = (t >= start or t < end) if start > end else (start <= t < end)
    if not inside:
        return now
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)


# --- people ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: str
    language: str
    channels: tuple[str, ...]
    opt_out: bool


def recipients(session: Session, runtime: Runtime, user_ids: Iterable[str]) -> list[Recipient]:
    """The people among ``user_ids`` who are active, with their channels (those that can reach them now)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    rows = session.execute(
        select(User, Preference).outerjoin(Preference, Preference.user_id == User.id).where(User.id.in_(ids))
    ).all()
    found = []
    for user, pref in rows:
        if not user.is_active:
            continue
        wanted = tuple(pref.channels) if pref else (CITIZEN_DEFAULT if user.kind == "citizen" else OFFICER_DEFAULT)
        usable = [
            c
            for c in wanted
            if c == "portal"
            or (c == "sms" and user.mobile_sealed)
            or (c == "whatsapp" and user.mobile_sealed and runtime.whatsapp is not None)
            or (c == "email" and pref is not None and pref.email_sealed)
        ]
        if "portal" not in usable:
            usable.append("portal")
        found.append(Recipient(user.id, user.language, tuple(usable), bool(pref and pref.opt_out)))
    return found


# --- writing messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class About:
    """What a message is about: the place, the application (if any) and the step's key."""

    state_code: str
    local_body_code: str | None
    application_id: str | None
    application_number: str | None
    key: str


def compose(
    session: Session,
    runtime: Runtime,
    about: About,
    event: str,
    people: list[Recipient],
    values: dict[str, str],
    *,
    link: str | None,
    now: datetime,
) -> list[Notification]:
    """Write ``event``'s message for each person on each of their channels, and queue the sending."""
    doc = document(session, about.state_code)
    here = place(session, about.state_code)
    spec = EVENTS[event]
    life = LIFE.get(event, DEFAULT_LIFE)
    written = []
    for person in people:
        texts = doc["events"][event]["text"]
        language = person.language if person.language in texts else here.state.languages[0]
        message = render(doc, event, language, values)
        first_external = True
        for channel in person.channels:
            if channel in EXTERNAL and person.opt_out and not spec.statutory:
                continue
            if channel in EXTERNAL and not first_external:
                continue  # one outside channel at a time; the next is the fallback
            template = {"sms": message.dlt_template_id, "whatsapp": message.whatsapp_template}.get(channel)
            row = Notification(
                id=new_id(),
                user_id=person.user_id,
                state_code=about.state_code,
                local_body_code=about.local_body_code,
                application_id=about.application_id,
                application_number=about.application_number,
                event=event,
                channel=channel,
                language=language,
                urgent=spec.urgent,
                statutory=spec.statutory,
                dedupe_key=f"{about.key}:{person.user_id}:{channel}",
                subject=message.subject,
                body=message.text,
                link=link,
                provider_template=template,
                variables=values,
                expires_at=now + life,
                created_at=now,
            )
            if channel == "portal":
                row.status, row.delivered_at = "delivered", now
            else:
                first_external = False
                due = now if spec.urgent or channel == "email" else quiet_until(doc, here.state.zone, now)
                row.next_attempt_at = due
                _queue_send(session, row, due)
            session.add(row)
            written.append(row)
    return written


def _queue_send(session: Session, row: Notification, due: datetime) -> None:
    job = enqueue(session, "notifications.send", {"id": row.id}, dedupe_key=f"notify-send:{row.id}:{row.attempts}")
    job.run_after = due


# --- from steps to events --------------------------------------------------------------------------


def _rupees(paise: int) -> str:
    return f"Rs {paise / 100:,.2f}"


def _day(session: Session, state_code: str, at: datetime | None) -> str:
    if at is None:
        return "-"
    return at.astimezone(place(session, state_code).state.zone).strftime("%d %b %Y")


_NO_DEMAND = object()


def event_of(
    session: Session, entry: HistoryEntry, app: Application, demand: Demand | object | None = _NO_DEMAND
) -> tuple[str, dict[str, str], str] | None:
    """The event a step is for the applicant (name, values, link), or None when it says nothing to them.

    ``demand``: the application's fee demand when the caller has read it already (None: it has none).
    """
    base = runtime_of(session).settings.base_url.rstrip("/")
    link = f"{base}/applications/{app.number}"
    number = app.number
    if entry.action == "submit":
        if demand is _NO_DEMAND:
            demand = session.scalars(select(Demand).where(Demand.application_id == app.id)).first()
        if isinstance(demand, Demand) and demand.status == "due":
            due = demand.due_date.strftime("%d %b %Y")
            values = {
                "number": number,
                "amount": _rupees(demand.amount),
                "due_date": due,
                "link": f"{base}/applications/{number}/pay",
            }
            return "fee_due", values, values["link"]
        return "received", {"number": number, "due_date": _day(session, app.state_code, app.service_due_at), "link": link}, link
    if entry.action == "fee_paid":
        data = entry.data or {}
        values = {"number": number, "amount": _rupees(int(data.get("amount", 0))), "receipt": str(data.get("receipt", "-"))}
        return "fee_paid", values, link
    if entry.data and engine.CORRECT in entry.data:
        return "returned", {"number": number, "reason": entry.comment or "-", "link": f"{link}/correct"}, f"{link}/correct"
    if entry.action == "allow_appeal":
        return "appeal_allowed", {"number": number, "link": link}, link
    service = service_of(session, app.service_version_id, app.local_body_code)
    if entry.from_state == entry.to_state or not service.is_final(entry.to_state):
        return None
    outcome = service.state(entry.to_state).get("outcome")
    if entry.action in ("dismiss_appeal", "appeal_dismissed"):
        return "appeal_dismissed", {"number": number, "link": link}, link
    if outcome == "approved":
        certificate = session.scalars(select(Certificate.id).where(Certificate.application_id == app.id)).first()
        target = f"{base}/api/v1/applications/{number}/certificate.pdf" if certificate is not None else link
        return "approved", {"number": number, "certificate_link": target}, target
    if outcome == "rejected":
        appeals = service.workflow.get("appeals") or {}
        level = "first" if app.appeal_level == 0 else "second"
        days = str(appeals[level]["within_days"]) if level in appeals else "-"
        return "rejected", {"number": number, "reason": entry.comment or "-", "appeal_days": days, "link": link}, link
    return None


def on_step(
    session: Session,
    runtime: Runtime,
    entry: HistoryEntry,
    app: Application,
    now: datetime,
    *,
    demand: Demand | object | None = _NO_DEMAND,
    people: dict[str, Recipient] | None = None,
) -> list[Notification]:
    found = event_of(session, entry, app, demand)
    if found is None:
        return []
    event, values, link = found
    about = About(app.state_code, app.local_body_code, app.id, app.number, f"step:{entry.id}")
    if people is None:
        people = {r.user_id: r for r in recipients(session, runtime, [app.applicant_id])}
    whom = [people[app.applicant_id]] if app.applicant_id in people else []
    return compose(session, runtime, about, event, whom, values, link=link, now=now)


def may_speak(event: StepRecorded) -> bool:
    """Whether :func:`event_of` may find something to tell about the step, read from the event alone
    (no statement: most steps, an officer forwarding a case, say nothing to anyone and queue nothing)."""
    entry = event.entry
    if entry.action in ("submit", "fee_paid", "allow_appeal") or (entry.data and engine.CORRECT in entry.data):
        return True
    return entry.from_state != entry.to_state and event.service.is_final(entry.to_state)


def queue_step(session: Session, event: StepRecorded) -> None:
    """In the step's transaction: the outbox job that turns it into messages once it has committed."""
    if may_speak(event):
        payload = {"case_id": event.case.id, "seq": event.entry.seq}
        enqueue(session, "notifications.step", payload, dedupe_key=f"notify-step:{event.case.id}:{event.entry.seq}")


@task("notifications.step")
def on_step_job(session: Session, payload: dict[str, Any]) -> None:
    """The messages of one committed step (its job runs at least once; the messages' keys make it once)."""
    found = session.execute(
        select(HistoryEntry, Application)
        .join(Application, Application.id == HistoryEntry.application_id)
        .where(HistoryEntry.application_id == payload["case_id"], HistoryEntry.seq == int(payload["seq"]))
    ).first()
    if found is None:
        return
    entry, app = found
    key = f"step:{entry.id}:"
    if session.scalar(select(Notification.id).where(Notification.dedupe_key.like(f"{key}%")).limit(1)) is not None:
        return  # written by an earlier run of this job
    on_step(session, runtime_of(session), entry, app, utcnow())
    session.flush()


def queue_breach(session: Session, event: Breached) -> None:
    """In the sweep's transaction: queue the breach's messages (the outbox), naming who held the case
    when its limit passed (the sweep hands it to the escalation's role right after)."""
    payload = {**event.payload(), "holder": event.case.assigned_to_id}
    enqueue(
        session,
        "notifications.breached",
        payload,
        dedupe_key=f"notify-breach:{event.case.id}:{payload['kind']}:{payload['due_at']}",
    )


@task("notifications.breached")
def on_breached(session: Session, payload: dict[str, Any]) -> None:
    """A time limit passed: the citizen (a service's limit), the officer holding it and who it escalated to."""
    runtime = runtime_of(session)
    app = session.get(Application, payload["case_id"])
    if app is None:
        return
    due_at = datetime.fromisoformat(payload["due_at"])
    breach = session.scalars(
        select(Breach).where(Breach.application_id == app.id, Breach.kind == payload["kind"], Breach.due_at == due_at)
    ).first()
    if breach is None:
        return
    now = utcnow()
    base = runtime.settings.base_url.rstrip("/")
    link = f"{base}/applications/{app.number}"
    about = About(app.state_code, app.local_body_code, app.id, app.number, f"breach:{breach.id}")
    if breach.kind == "service":
        owed = _rupees(breach.compensation_per_day) + "/day" if breach.compensation_per_day else "-"
        people = recipients(session, runtime, [app.applicant_id])
        compose(
            session,
            runtime,
            about,
            "overdue",
            people,
            {"number": app.number, "compensation": owed, "link": link},
            link=link,
            now=now,
        )
    officers = [str(o) for o in (payload.get("holder"), app.assigned_to_id) if o]
    if breach.escalated_to:
        officers += engine.holders(session, app, breach.escalated_to)
    officer_link = f"{base}/officer/applications/{app.number}"
    values = {"number": app.number, "due_date": _day(session, app.state_code, breach.due_at), "link": officer_link}
    compose(
        session, runtime, about, "overdue_officer", recipients(session, runtime, officers), values, link=officer_link, now=now
    )


# --- grievances ----------------------------------------------------------------------------------

# The grievance events that tell someone something, and the message each is to the citizen.
GRIEVANCE_EVENTS: dict[type[GrievanceEvent], str] = {
    Filed: "grievance_filed",
    Assigned: "grievance_assigned",
    Escalated: "grievance_escalated",
    Resolved: "grievance_resolved",
    Merged: "grievance_merged",
}


def queue_grievance(session: Session, event: GrievanceEvent) -> None:
    """In the grievance's transaction: the job of its messages (the outbox), naming the officer it is with now."""
    name = GRIEVANCE_EVENTS.get(type(event))
    if name is None or (isinstance(event, Escalated) and event.to_level is None):
        return  # at the last level already: nothing moved, nobody new to tell
    g = event.grievance
    # ``seq``: the grievance's last step when it happened (a grievance may be resolved twice in one moment:
    # resolved, rated poorly, resolved again), so each occurrence has its own job and its own messages.
    payload = {**event.payload(), "event": name, "holder": g.assigned_to_id, "seq": g.last_seq}
    enqueue(session, "notifications.grievance", payload, dedupe_key=f"notify-grievance:{g.id}:{name}:{g.last_seq}")


@task("notifications.grievance")
def on_grievance(session: Session, payload: dict[str, Any]) -> None:
    """A grievance's step: the citizen's message, and ``grievance_assigned`` to the officer who now holds it
    (at filing, on assignment to a field officer, on escalation)."""
    runtime = runtime_of(session)
    g = session.get(Grievance, payload["grievance_id"])
    if g is None:
        return
    event = str(payload["event"])
    key = f"grievance:{g.id}:{event}:{payload['seq']}"
    if session.scalar(select(Notification.id).where(Notification.dedupe_key.like(f"{key}:%")).limit(1)) is not None:
        return  # written by an earlier run of this job
    now = utcnow()
    base = runtime.settings.base_url.rstrip("/")
    mine, officers = f"{base}/my/grievances/{g.number}", f"{base}/officer/grievances/{g.number}"
    due_at = datetime.fromisoformat(payload["due_at"]) if payload.get("due_at") else None
    due = _day(session, g.state_code, due_at)
    about = About(g.state_code, g.local_body_code, None, None, key)
    if event != "grievance_assigned":
        values = {"number": g.number, "link": mine}
        if event in ("grievance_filed", "grievance_escalated"):
            values["due_date"] = due
        if event == "grievance_escalated":
            values["level"] = str(payload["level"])
        if event == "grievance_merged":
            values["merged_into"] = str(payload["into_number"])
        compose(session, runtime, about, event, recipients(session, runtime, [g.citizen_id]), values, link=mine, now=now)
    holder = payload.get("holder")
    if holder and event in ("grievance_filed", "grievance_assigned", "grievance_escalated") and holder != g.citizen_id:
        values = {"number": g.number, "due_date": due, "link": officers}
        people = recipients(session, runtime, [str(holder)])
        compose(session, runtime, about, "grievance_assigned", people, values, link=officers, now=now)
    session.flush()


# --- the officers' daily digest ---------------------------------------------------------------------

DIGEST_FROM_HOUR = 8  # local time: the digest of a day goes from this hour on, once


def daily_digest(session: Session, *, now: datetime | None = None) -> int:
    """To each officer with open applications assigned: how many fall due today and how many are overdue.

    Once a day per officer (the message's key names the state's day), from 08:00 in the state's time
    zone; officers with nothing due today or overdue get nothing. Returns the messages written.
    """
    runtime = runtime_of(session)
    now = now or utcnow()
    base = runtime.settings.base_url.rstrip("/")
    written = 0
    for code in list(session.scalars(select(State.code).order_by(State.code))):
        zone = place(session, code).state.zone
        local = now.astimezone(zone)
        if local.hour < DIGEST_FROM_HOUR:
            continue
        day_start = datetime.combine(local.date(), time(0), zone).astimezone(UTC)
        day_end = day_start + timedelta(days=1)
        key = f"digest:{code}:{local.date().isoformat()}"
        done = {
            k.split(":")[3]
            for k in session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.like(f"{key}:%")))
        }
        due = func.count(case((and_(Application.state_due_at >= day_start, Application.state_due_at < day_end), 1)))
        late = func.count(case((Application.state_due_at < now, 1)))
        rows = session.execute(
            select(Application.assigned_to_id, due, late)
            .where(Application.state_code == code, Application.is_open.is_(True), Application.assigned_to_id.is_not(None))
            .group_by(Application.assigned_to_id)
        ).all()
        counts = {str(user): (int(d), int(o)) for user, d, o in rows if (d or o) and str(user) not in done}
        link = f"{base}/officer"
        for person in recipients(session, runtime, counts):
            today, overdue = counts[person.user_id]
            values = {"due_today": str(today), "overdue": str(overdue), "link": link}
            written += len(
                compose(session, runtime, About(code, None, None, None, key), "digest", [person], values, link=link, now=now)
            )
    session.flush()
    return written


# --- sending ---------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """About 30 s, 1, 2, 4 minutes... with jitter, at most an hour."""
    seconds = min(30.0 * 2 ** max(attempts - 1, 0), 3600.0)
    return timedelta(seconds=seconds * (0.75 + random.random() / 2))  # noqa: S311 - jitter, not security


class _Permanent(Exception):
    pass


def _classify(exc: Exception) -> str:
    """temporary-failure or permanent-failure for an exception a sender raised."""
    if isinstance(exc, _Permanent | MailRefused):
        return "permanent-failure"
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        if 400 <= code < 500 and code not in (408, 429):
            return "permanent-failure"
    return "temporary-failure"


def _destination(session: Session, runtime: Runtime, row: Notification) -> str | None:
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if row.channel in ("sms", "whatsapp"):
        return runtime.cipher.decrypt(user.mobile_sealed, context="mobile") if user.mobile_sealed else None
    pref = session.get(Preference, row.user_id)
    return runtime.cipher.decrypt(pref.email_sealed, context="email") if pref and pref.email_sealed else None


def email_html(row: Notification) -> str:
    body = html.escape(row.body)
    if row.link:
        link = html.escape(row.link, quote=True)
        body = body.replace(html.escape(row.link), f'<a href="{link}">{html.escape(row.link)}</a>')
    return (
        f'<!doctype html><html lang="{html.escape(row.language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(row.subject)}</title></head><body><p>{body}</p></body></html>"
    )


def _hand_over(runtime: Runtime, row: Notification, to: str, doc: dict[str, Any]) -> str | None:
    if row.channel == "sms":
        return runtime.sms.send(
            to,
            row.body,
            idempotency_key=row.id,
            dlt_template_id=row.provider_template,
            dlt_entity_id=str(doc["sms"]["entity_id"]),
            header=str(doc["sms"]["header"]),
        )
    if row.channel == "email":
        return runtime.mail.send(to, row.subject, row.body, email_html(row), idempotency_key=row.id)
    if runtime.whatsapp is None:
        raise _Permanent("WhatsApp is not configured on this node")
    parameters = render(doc, row.event, row.language, row.variables).parameters
    return runtime.whatsapp.send(to, str(row.provider_template), row.language, parameters, idempotency_key=row.id)


def send_test(session: Session, *, state: str, channel: str, to: str, language: str) -> str | None:
    """Send the state's ``received`` message with sample values to ``to`` through ``channel`` now
    (``nagara notifications test``); nothing is stored. Returns the provider's message id."""
    runtime = runtime_of(session)
    doc = document(session, state)
    if channel not in EXTERNAL:
        raise invalid("body", "channel", f"channel must be one of {', '.join(EXTERNAL)}")
    if language not in doc["events"]["received"]["text"]:
        raise invalid("body", "language", f"the {state} pack has no text in {language!r}")
    values = {"number": "TEST-0000-000001", "due_date": _day(session, state, utcnow()), "link": runtime.settings.base_url}
    message = render(doc, "received", language, values)
    row = Notification(
        id=new_id(),
        user_id="",
        state_code=state,
        event="received",
        channel=channel,
        language=language,
        dedupe_key="test",
        subject=message.subject,
        body=message.text,
        link=values["link"],
        provider_template={"sms": message.dlt_template_id, "whatsapp": message.whatsapp_template}.get(channel),
        variables=values,
        expires_at=utcnow(),
    )
    return _hand_over(runtime, row, to, doc)


def send(session: Session, message_id: str, *, now: datetime | None = None) -> str:
    """Hand one message to its channel's provider and record the outcome; returns its status."""
    runtime = runtime_of(session)
    row = session.get(Notification, message_id, with_for_update=True)
    if row is None or row.status not in ("created", "temporary-failure", "sending") or row.handed_at is not None:
        return row.status if row is not None else "missing"
    now = now or utcnow()
    if now > row.expires_at:
        row.status, row.next_attempt_at = "temporary-failure", None
        row.failure = f"dropped: older than its useful life (expired {row.expires_at.isoformat()})"
        return row.status
    to = _destination(session, runtime, row)
    row.attempts += 1
    if to is None:
        row.status, row.next_attempt_at, row.failure = "technical-failure", None, f"no {row.channel} address for the person"
        return row.status
    try:
        provider_id = _hand_over(runtime, row, to, document(session, row.state_code))
    except (httpx.HTTPError, smtplib.SMTPException, OSError, MailRefused, _Permanent) as exc:
        row.failure = f"{type(exc).__name__}: {exc}"[:500]
        row.status = _classify(exc)
        if row.status == "temporary-failure" and row.attempts < MAX_ATTEMPTS and now + backoff(row.attempts) < row.expires_at:
            row.next_attempt_at = now + backoff(row.attempts)
            _queue_send(session, row, row.next_attempt_at)
        else:
            row.next_attempt_at = None
            if row.status == "permanent-failure":
                fallback(session, runtime, row, now)
        return row.status
    row.handed_at, row.provider_id, row.next_attempt_at, row.failure = now, provider_id, None, None
    if row.channel == "email":
        row.status, row.delivered_at = "delivered", now  # the recipient's server accepted it
    else:
        row.status = "sending"  # the provider's receipt says delivered, or not
    return row.status


def fallback(session: Session, runtime: Runtime, failed: Notification, now: datetime) -> Notification | None:
    """The same message on the person's next outside channel, after a permanent failure."""
    found = recipients(session, runtime, [failed.user_id])
    if not found:
        return None
    person = found[0]
    tried = set(
        session.scalars(
            select(Notification.channel).where(Notification.dedupe_key.like(failed.dedupe_key.rsplit(":", 1)[0] + ":%"))
        )
    )
    for channel in person.channels:
        if channel in EXTERNAL and channel not in tried and channel != failed.channel:
            message = render(document(session, failed.state_code), failed.event, failed.language, failed.variables)
            kept = (
                "user_id",
                "state_code",
                "local_body_code",
                "application_id",
                "application_number",
                "event",
                "language",
                "urgent",
                "statutory",
                "subject",
                "body",
                "link",
                "expires_at",
                "variables",
            )
            row = Notification(
                id=new_id(),
                **{c: getattr(failed, c) for c in kept},
                channel=channel,
                dedupe_key=failed.dedupe_key.rsplit(":", 1)[0] + f":{channel}",
                provider_template={"sms": message.dlt_template_id, "whatsapp": message.whatsapp_template}.get(channel),
                fallback_of=failed.id,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(row)
            _queue_send(session, row, now)
            return row
    return None


# --- delivery receipts -----------------------------------------------------------------------------

RECEIPT_STATUSES = {
    "delivered": "delivered",
    "failed": "permanent-failure",
    "undeliverable": "permanent-failure",
    "expired": "temporary-failure",
    "rejected": "permanent-failure",
}


def receipt_key(runtime: Runtime) -> bytes:
    secret = runtime.settings.sms_receipt_secret.get_secret_value()
    return secret.encode() if secret else derive_key(runtime.secret, "sms-receipts")


def sign_receipt(runtime: Runtime, body: bytes) -> str:
    return hmac.new(receipt_key(runtime), body, hashlib.sha256).hexdigest()


def record_receipt(session: Session, runtime: Runtime, body: bytes, signature: str, payload: dict[str, Any]) -> Notification:
    """A provider's signed delivery receipt: ``{"id": provider message id, "status": ...}``."""
    if not hmac.compare_digest(sign_receipt(runtime, body), signature):
        raise invalid("header", "X-Signature", "the receipt's signature does not match its body (HMAC-SHA256, hex)")
    status = RECEIPT_STATUSES.get(str(payload.get("status")))
    if status is None:
        raise invalid("body", "status", f"status must be one of {', '.join(RECEIPT_STATUSES)}")
    row = session.scalars(
        select(Notification).where(Notification.provider_id == str(payload.get("id")), Notification.channel == "sms")
    ).first()
    if row is None:
        raise NotFound("no SMS with that provider message id")
    if row.status in ("delivered", "permanent-failure"):
        return row  # a receipt repeated: the first one counts
    row.status = status
    if status == "delivered":
        row.delivered_at = utcnow()
    else:
        row.failure = f"receipt: {payload.get('status')}"
        if status == "permanent-failure":
            fallback(session, runtime, row, utcnow())
    return row


# --- a person's own messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Inbox:
    items: list[Notification]
    unread: int
    total: int


def inbox(session: Session, principal: Principal, *, unread_only: bool = False, limit: int = 50, offset: int = 0) -> Inbox:
    """The signed-in person's portal messages, newest first, with how many are unread."""
    mine = and_(Notification.user_id == principal.user_id, Notification.channel == "portal")
    counts = session.execute(select(func.count(), func.count(case((Notification.read_at.is_(None), 1)))).where(mine)).one()
    query = select(Notification).where(mine)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    items = list(
        session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id).limit(limit).offset(min(offset, MAX_OFFSET))
        )
    )
    return Inbox(items, int(counts[1]), int(counts[0]))


def mark_read(session: Session, principal: Principal, message_id: str | None) -> int:
    """Mark one of the person's portal messages read (or all, ``message_id`` None); how many changed."""
    where = [Notification.user_id == principal.user_id, Notification.channel == "portal", Notification.read_at.is_(None)]
    if message_id is not None:
        row = session.get(Notification, message_id)
        if row is None or row.user_id != principal.user_id or row.channel != "portal":
            raise NotFound("no such message of yours")
        where.append(Notification.id == message_id)
    result = session.execute(
        update(Notification).where(*where).values(read_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def get_preferences(session: Session, principal: Principal) -> tuple[Preference | None, User]:
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("no such user")
    return session.get(Preference, principal.user_id), user


def set_preferences(
    session: Session, principal: Principal, *, channels: list[str], email: str | None, opt_out: bool
) -> Preference:
    runtime = runtime_of(session)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise invalid("body", "channels", f"unknown channel {', '.join(unknown)}; channels are {', '.join(CHANNELS)}")
    if "email" in channels and not email:
        raise invalid("body", "email", "an e-mail address is needed to receive e-mail")
    if email and not EMAIL.fullmatch(email):
        raise invalid("body", "email", "the e-mail address must look like name@example.in")
    if "whatsapp" in channels and runtime.whatsapp is None:
        raise Conflict("WhatsApp is not offered on this node")
    pref, _user = get_preferences(session, principal)
    pref = pref or Preference(user_id=principal.user_id)
    pref.channels = list(dict.fromkeys([*channels, "portal"]))
    pref.email_sealed = runtime.cipher.encrypt(email, context="email") if email else None
    pref.opt_out = opt_out
    session.add(pref)
    session.flush()
    return pref


def email_of(session: Session, pref: Preference | None) -> str | None:
    if pref is None or not pref.email_sealed:
        return None
    return runtime_of(session).cipher.decrypt(pref.email_sealed, context="email")


# --- delivery, for administrators ------------------------------------------------------------------


def delivery(session: Session, state_code: str, since: datetime) -> list[dict[str, Any]]:
    """Messages since ``since`` per channel and event, by status: how many, and the share delivered."""
    rows = session.execute(
        select(Notification.channel, Notification.event, Notification.status, func.count())
        .where(Notification.state_code == state_code, Notification.created_at >= since)
        .group_by(Notification.channel, Notification.event, Notification.status)
    ).all()
    table: dict[tuple[str, str], dict[str, int]] = {}
    for channel, event, status, n in rows:
        table.setdefault((channel, event), {})[status] = int(n)
    out = []
    for (channel, event), statuses in sorted(table.items()):
        total = sum(statuses.values())
        failed = sum(v for k, v in statuses.items() if k.endswith("failure"))
        out.append(
            {
                "channel": channel,
                "event": event,
                "total": total,
                "statuses": statuses,
                "delivered_rate": round(statuses.get("delivered", 0) / total, 4) if total else 0.0,
                "failed": failed,
            }
        )
    return out


def recent_failures(session: Session, state_code: str, *, limit: int = 20) -> list[Notification]:
    """The state's latest messages that failed (any failure status), newest first, for the administrator."""
    failed = Notification.status.in_(("temporary-failure", "permanent-failure", "technical-failure"))
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.state_code == state_code, failed)
            .order_by(Notification.created_at.desc(), Notification.id)
            .limit(limit)
        )
    )

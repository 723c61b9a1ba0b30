"""Rollups kept as the work happens, at no cost to the write path.

Every step of every case is announced (``workflow.events.StepRecorded``) and written to the
public ledger in the step's own transaction; the ledger's integrator gives those entries a
gapless, ever-growing index after commit. The fold (the worker's ``analytics.fold`` job) reads
the entries past its cursor, takes the cases they name, and brings each case's contribution to
the counts up to date: it computes what the case adds now (:func:`contributions`, from the
application, its history and its fee), compares it with what the case added when last folded
(``analytics_facts``) and adds the difference to ``analytics_counts``. Folding a case again
adds nothing, so the fold may repeat and may run beside ``nagara analytics rebuild`` (which
clears the tables and folds every case). A submission or an action pays no statement for it.

What a case adds depends only on its record, never on the time of the fold, so a rebuild and
the live counts agree (``tests/analytics/test_rollups.py``). Pendency is kept by the days
cases fall due; "overdue" and "due today" are read against today by the dashboards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nagara.analytics.models import Count, Cursor, DistrictCount, Fact
from nagara.applications.models import Application
from nagara.applications.service import service_for
from nagara.catalog.definitions import APPEAL, ESCALATE, FIRST_APPEAL, Service
from nagara.ledger.models import LogEntry
from nagara.tenancy.models import LocalBody, State
from nagara.workflow.engine import returns_to_applicant
from nagara.workflow.models import HistoryEntry

LEDGER = "ledger"  # the cursor over the ledger's entries
STEP_ENTRY = "application.action"  # the ledger entry of a case's step (ledger.handlers)
ONLINE, ASSISTED = "online", "assisted"
MAX_DAYS = 400  # the histogram of days to a decision stops here (the last bucket is "this or more")

# The measures (docs: CONVENTIONS.md, "Analytics"). Those ending in ":" take a suffix.
RECEIVED = "received"
DECIDED = "decided:"  # + outcome: approved, rejected, withdrawn...
WITHIN = "within_limit"  # decided (not withdrawn) by the service's due time
PAST = "past_limit"
DECISION_DAYS = "decision_days"  # bucket: whole days from submission to decision
RETURNED = "returned"  # office work handed back to the applicant
APPEALED = "appealed"  # bucket: the appeal's level
ESCALATED = "escalated"
FEE_DEMANDED = "fee_demanded:"  # + head, in paise, on the day of submission
FEE_COLLECTED = "fee_collected:"  # + head, in paise, on the day the fee was paid
OPEN = "open"  # open cases by the day they were received
OPEN_DUE = "open_due"  # open cases by the day the service falls due
OPEN_ROLE = "open_role:"  # + the role holding it, by the day the current step falls due

Key = tuple[str, str, str, str, str, int]  # day (ISO), ward ("" none), subject, channel, measure, bucket


@dataclass(frozen=True)
class Place:
    state_code: str
    district_code: str
    zone: ZoneInfo


def _day(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).date().isoformat()


def _returned(service: Service, entry: HistoryEntry) -> bool:
    if entry.from_state is None or entry.from_state == entry.to_state:
        return False
    try:
        return returns_to_applicant(service, entry.from_state, entry.to_state)
    except KeyError:  # a state the service's current version no longer has
        return False


def contributions(app: Application, steps: Sequence[HistoryEntry], service: Service, zone: ZoneInfo) -> dict[Key, int]:
    """What one case adds to the counts, from its record alone (not from the time of asking)."""
    if app.submitted_at is None:
        return {}
    ward = app.ward_code or ""
    channel = ONLINE if app.filed_by_id == app.applicant_id else ASSISTED
    subject = app.service_code
    out: dict[Key, int] = defaultdict(int)

    def add(at: datetime, measure: str, value: int = 1, bucket: int = 0) -> None:
        if value:
            out[(_day(at, zone), ward, subject, channel, measure, bucket)] += value

    add(app.submitted_at, RECEIVED)
    for line in app.fee_lines or []:
        add(app.submitted_at, FEE_DEMANDED + str(line.get("head") or ""), int(line.get("amount") or 0))
    paid_at = None
    for entry in steps:
        if entry.action == APPEAL:
            add(entry.at, APPEALED, bucket=1 if entry.to_state == FIRST_APPEAL else 2)
        elif entry.action == ESCALATE:
            add(entry.at, ESCALATED)
        elif entry.action == "fee_paid":
            paid_at = entry.at
        elif _returned(service, entry):
            add(entry.at, RETURNED)
    if app.fee_paid and app.fee_total > 0 and paid_at is not None:
        for line in app.fee_lines or []:
            add(paid_at, FEE_COLLECTED + str(line.get("head") or ""), int(line.get("amount") or 0))
    if app.is_open:
        add(app.submitted_at, OPEN)
        if app.service_due_at is not None:
            add(app.service_due_at, OPEN_DUE)
        role = app.assigned_role or ""
        add(app.state_due_at or app.submitted_at, OPEN_ROLE + role)
    elif app.decided_at is not None and app.outcome:
        add(app.decided_at, DECIDED + app.outcome)
        if app.outcome != "withdrawn":
            if app.service_due_at is not None:
                add(app.decided_at, WITHIN if app.decided_at <= app.service_due_at else PAST)
            days = int((app.decided_at - app.submitted_at).total_seconds() // 86400)
            add(app.decided_at, DECISION_DAYS, bucket=max(0, min(days, MAX_DAYS)))
    return {k: v for k, v in out.items() if v}


def _places(session: Session, bodies: Iterable[str]) -> dict[str, Place]:
    rows = session.execute(
        select(LocalBody.code, LocalBody.state_code, LocalBody.district_code, State.timezone)
        .join(State, State.code == LocalBody.state_code)
        .where(LocalBody.code.in_(sorted(set(bodies))))
    )
    return {code: Place(state, district, ZoneInfo(tz)) for code, state, district, tz in rows}


def _upsert_counts(session: Session, rows: list[dict[str, Any]]) -> None:
    _upsert(
        session,
        Count.__table__.c.value.table,
        ["local_body_code", "day", "ward_code", "subject", "channel", "measure", "bucket"],
        rows,
    )
    districts: dict[tuple[Any, ...], int] = defaultdict(int)
    states: dict[str, str] = {}
    for row in rows:
        districts[(row["district_code"], row["day"], row["subject"], row["measure"], row["bucket"])] += row["value"]
        states[row["district_code"]] = row["state_code"]
    summed = [
        {
            "district_code": d,
            "day": day,
            "subject": subject,
            "measure": measure,
            "bucket": bucket,
            "state_code": states[d],
            "value": value,
        }
        for (d, day, subject, measure, bucket), value in sorted(districts.items())
        if value
    ]
    _upsert(session, DistrictCount.__table__.c.value.table, ["district_code", "day", "subject", "measure", "bucket"], summed)


def _upsert(session: Session, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    insert_ = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(rows), 500):
        statement = insert_(table).values(rows[start : start + 500])
        statement = statement.on_conflict_do_update(index_elements=keys, set_={"value": table.c.value + statement.excluded.value})
        session.execute(statement)


def refold(session: Session, case_ids: Sequence[str]) -> int:
    """Bring the contributions of these applications up to date; returns how many counts changed."""
    if not case_ids:
        return 0
    ids = sorted(set(case_ids))
    apps = list(session.scalars(select(Application).where(Application.id.in_(ids))))
    steps: dict[str, list[HistoryEntry]] = defaultdict(list)
    for entry in session.scalars(
        select(HistoryEntry).where(HistoryEntry.application_id.in_(ids)).order_by(HistoryEntry.application_id, HistoryEntry.seq)
    ):
        steps[entry.application_id].append(entry)
    old = {f.case_id: f for f in session.scalars(select(Fact).where(Fact.case_id.in_(ids)))}
    places = _places(session, [a.local_body_code for a in apps] + [f.local_body_code for f in old.values()])
    delta: dict[tuple[str, Key], int] = defaultdict(int)
    facts: list[dict[str, Any]] = []
    for app in apps:
        place = places[app.local_body_code]
        now = contributions(app, steps[app.id], service_for(session, app), place.zone)
        for key, value in now.items():
            delta[(app.local_body_code, key)] += value
        if now:
            facts.append(
                {"case_id": app.id, "local_body_code": app.local_body_code, "contributions": [[*k, v] for k, v in now.items()]}
            )
    for fact in old.values():
        for day, ward, subject, channel, measure, bucket, value in fact.contributions:
            delta[(fact.local_body_code, (day, ward, subject, channel, measure, int(bucket)))] -= int(value)
    rows = [
        {
            "local_body_code": body,
            "day": date.fromisoformat(day),
            "ward_code": ward,
            "subject": subject,
            "channel": channel,
            "measure": measure,
            "bucket": bucket,
            "state_code": places[body].state_code,
            "district_code": places[body].district_code,
            "value": value,
        }
        for (body, (day, ward, subject, channel, measure, bucket)), value in sorted(delta.items())
        if value
    ]
    _upsert_counts(session, rows)
    if old:
        session.execute(delete(Fact).where(Fact.case_id.in_(list(old))))
    if facts:
        session.execute(insert(Fact), facts)
    return len(rows)


def _hold_cursor(session: Session) -> int:
    """The fold's cursor, locked for this transaction (one fold or rebuild moves it at a time)."""
    table = Cursor.__table__.c.position.table
    insert_ = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert_(table).values(name=LEDGER, position=0).on_conflict_do_nothing())
    return int(session.execute(select(Cursor.position).where(Cursor.name == LEDGER).with_for_update()).scalar_one())


@dataclass(frozen=True)
class Folded:
    entries: int
    cases: int
    counts: int
    position: int
    more: bool


def fold(session: Session, *, limit: int = 5000) -> Folded:
    """Fold the cases named by the ledger entries past the cursor (at most ``limit`` entries); the caller commits."""
    position = _hold_cursor(session)
    entries = session.execute(
        select(LogEntry.idx, LogEntry.type, LogEntry.subject).where(LogEntry.idx >= position).order_by(LogEntry.idx).limit(limit)
    ).all()
    if not entries:
        return Folded(0, 0, 0, position, more=False)
    numbers = sorted({subject for _, kind, subject in entries if kind == STEP_ENTRY})
    ids = list(session.scalars(select(Application.id).where(Application.number.in_(numbers)))) if numbers else []
    changed = refold(session, ids)
    position = entries[-1][0] + 1
    session.execute(update(Cursor).where(Cursor.name == LEDGER).values(position=position))
    return Folded(len(entries), len(ids), changed, position, more=len(entries) == limit)


def clear(session: Session) -> None:
    """Start a rebuild: empty the rollups and move the cursor to the ledger's end.

    Entries past that point are folded by the job as usual; :func:`fold_batch` then folds every
    submitted application once, and folding a case the job already folded changes nothing.
    """
    _hold_cursor(session)
    end = session.scalar(select(func.max(LogEntry.idx)))
    session.execute(delete(Count))
    session.execute(delete(DistrictCount))
    session.execute(delete(Fact))
    session.execute(update(Cursor).where(Cursor.name == LEDGER).values(position=0 if end is None else end + 1))


def fold_batch(session: Session, *, after: str, batch: int = 1000) -> tuple[int, str | None]:
    """Fold the next ``batch`` submitted applications by id after ``after``: how many, and the last id (None at the end)."""
    ids = list(
        session.scalars(
            select(Application.id)
            .where(Application.id > after, Application.submitted_at.is_not(None))
            .order_by(Application.id)
            .limit(batch)
        )
    )
    if not ids:
        return 0, None
    refold(session, ids)
    return len(ids), ids[-1]


def rebuild(session: Session, *, batch: int = 1000) -> None:
    """Clear and fold everything in one transaction (tests, small nodes; the CLI commits per batch)."""
    clear(session)
    after: str | None = ""
    while after is not None:
        _, after = fold_batch(session, after=after, batch=batch)

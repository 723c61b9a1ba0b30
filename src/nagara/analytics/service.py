"""The dashboards' numbers, read from the rollups (``analytics_counts``) only.

A place is a state, a district, a local body or a ward. For a place and a period the
dashboard gives the flow (received, decided, within the time limit, days to a decision,
returned, appealed, fees) of the period, and the pendency now (open, overdue, due today, by
age), in total, per service, per place one level down (ranked by the Institution Level Index),
per role holding the work, and fees per head. Officers see the places their grants of
``applications:application:read`` cover; the public sees every place, with small numbers
suppressed (:mod:`nagara.analytics.public`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from nagara.analytics import rollups as r
from nagara.analytics.models import Count, DistrictCount
from nagara.catalog.models import ServiceVersion
from nagara.kit.access import Principal
from nagara.kit.errors import Forbidden, NotFound
from nagara.tenancy.models import District, LocalBody, Role, State, Ward

READ = "applications:application:read"
LEVELS = ("state", "district", "body", "ward")
AGE_BANDS = ((0, 7), (8, 15), (16, 30), (31, 60), (61, None))
ILI_TIMELINESS, ILI_PENDENCY = 0.7, 0.3  # the Institution Level Index's weights (CONVENTIONS.md, "Analytics")


@dataclass(frozen=True)
class Place:
    level: str  # state | district | body | ward
    code: str
    name: dict[str, str]
    state_code: str
    body_code: str | None = None  # the body of a ward
    parent: Place | None = None


@dataclass
class Measures:
    """One row of a dashboard: a place, a service or the total."""

    received: int = 0
    decided: Counter[str] = field(default_factory=Counter)
    within: int = 0
    past: int = 0
    days: Counter[int] = field(default_factory=Counter)
    returned: int = 0
    appealed: int = 0
    escalated: int = 0
    fee_demanded: int = 0
    fee_collected: int = 0
    open: int = 0
    overdue: int = 0
    due_today: int = 0
    ages: Counter[int] = field(default_factory=Counter)  # index into AGE_BANDS
    ili: float | None = None

    @property
    def decided_total(self) -> int:
        return sum(self.decided.values())

    @property
    def within_share(self) -> float | None:
        timed = self.within + self.past
        return self.within / timed if timed else None

    def percentile(self, p: float) -> int | None:
        """Whole days to a decision at percentile ``p`` (0..1) of the period's decisions (not withdrawals)."""
        n = sum(self.days.values())
        if not n:
            return None
        rank = max(1, -(-int(p * n * 1000) // 1000))  # the smallest k with k >= p*n
        seen = 0
        for days in sorted(self.days):
            seen += self.days[days]
            if seen >= rank:
                return days
        return max(self.days)

    @property
    def median_days(self) -> int | None:
        return self.percentile(0.5)

    @property
    def p90_days(self) -> int | None:
        return self.percentile(0.9)

    def add(self, other: Measures) -> None:
        for name in ("received", "within", "past", "returned", "appealed", "escalated", "fee_demanded", "fee_collected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("open", "overdue", "due_today"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.decided.update(other.decided)
        self.days.update(other.days)
        self.ages.update(other.ages)


def ili(services: list[Measures]) -> float | None:
    """The Institution Level Index (0-100): per service, 0.7 x the share decided within the time limit plus
    0.3 x the share of open work not past its limit, weighted by the service's volume (received + open).

    Following K-SMART's factors (time limit against actual time, service weight); a service with
    no timed decision and no open work adds nothing; None when no service has either.
    """
    total_weight, score = 0, 0.0
    for m in services:
        parts: list[tuple[float, float]] = []
        if m.within_share is not None:
            parts.append((ILI_TIMELINESS, m.within_share))
        if m.open:
            parts.append((ILI_PENDENCY, 1 - m.overdue / m.open))
        weight = m.received + m.open
        if not parts or not weight:
            continue
        share = sum(w * v for w, v in parts) / sum(w for w, _ in parts)
        total_weight += weight
        score += weight * share
    return round(100 * score / total_weight, 1) if total_weight else None


@dataclass
class Dashboard:
    place: Place
    start: date
    end: date
    today: date
    total: Measures
    children: list[tuple[Place, Measures]]  # ranked by ILI, best first
    services: list[tuple[str, Measures]]
    roles: list[tuple[str, Measures]]  # open work by the role holding it (open, overdue, due today)
    fees: list[tuple[str, int, int]]  # head, demanded, collected
    outcomes: list[str] = field(default_factory=list)


# Places


def find_place(session: Session, code: str) -> Place:
    """A state, district, local body or ward by its code; NotFound names what is allowed."""
    state = session.get(State, code)
    if state is not None:
        return Place("state", state.code, state.name, state.code)
    district = session.get(District, code)
    if district is not None:
        state_place = find_place(session, district.state_code)
        return Place("district", district.code, district.name, district.state_code, parent=state_place)
    body = session.get(LocalBody, code)
    if body is not None:
        return Place("body", body.code, body.name, body.state_code, body.code, find_place(session, body.district_code))
    ward = session.get(Ward, code)
    if ward is not None:
        parent = find_place(session, ward.local_body_code)
        return Place("ward", ward.code, ward.name, parent.state_code, ward.local_body_code, parent)
    raise NotFound(f"no state, district, local body or ward has the code {code!r}")


def children_of(session: Session, place: Place) -> list[Place]:
    if place.level == "state":
        rows = session.scalars(select(District).where(District.state_code == place.code).order_by(District.code))
        return [Place("district", d.code, d.name, d.state_code, parent=place) for d in rows]
    if place.level == "district":
        bodies = session.scalars(select(LocalBody).where(LocalBody.district_code == place.code).order_by(LocalBody.code))
        return [Place("body", b.code, b.name, b.state_code, b.code, place) for b in bodies]
    if place.level == "body":
        wards = session.scalars(select(Ward).where(Ward.local_body_code == place.code).order_by(Ward.number))
        return [Place("ward", w.code, w.name, place.state_code, place.code, place) for w in wards]
    return []


def states(session: Session) -> list[Place]:
    return [Place("state", s.code, s.name, s.code) for s in session.scalars(select(State).order_by(State.code))]


def may_see(principal: Principal, place: Place) -> bool:
    """Whether one of the officer's grants of READ covers the whole place (a district: a state-wide grant)."""
    if place.level == "ward":
        where: tuple[str | None, str | None, str | None] = (place.state_code, place.body_code, place.code)
    elif place.level == "body":
        where = (place.state_code, place.code, None)
    else:  # a state or a district: only a state-wide grant covers all of it
        where = (place.state_code, None, None)
    return any(READ in grant.permissions and grant.covers(*where) for grant in principal.grants)


def home_place(session: Session, principal: Principal) -> Place:
    """The widest place the officer's grants cover: where their dashboard opens."""
    best: Place | None = None
    for grant in principal.grants:
        if READ not in grant.permissions:
            continue
        place = find_place(session, grant.place)
        if best is None or LEVELS.index(place.level) < LEVELS.index(best.level):
            best = place
    if best is None:
        raise Forbidden("your roles do not let you read applications anywhere, so there is no dashboard to show")
    return best


def require_place(principal: Principal, place: Place) -> None:
    if not may_see(principal, place):
        raise Forbidden(f"{place.code} is outside your jurisdiction")


# Reading the rollups


def _where(place: Place) -> ColumnElement[bool]:
    if place.level == "state":
        return Count.state_code == place.code
    if place.level == "district":
        return Count.district_code == place.code
    if place.level == "body":
        return Count.local_body_code == place.code
    return and_(Count.local_body_code == place.body_code, Count.ward_code == place.code)


def _child_column(place: Place) -> Any:
    columns = {"state": Count.district_code, "district": Count.local_body_code, "body": Count.ward_code}
    return columns.get(place.level, Count.subject)


def age_band(days: int) -> int:
    """The index in AGE_BANDS of work received ``days`` ago."""
    return next((i for i, (lo, hi) in enumerate(AGE_BANDS) if days >= lo and (hi is None or days <= hi)), 0)


def _apply(m: Measures, measure: str, bucket: int, day: date | None, value: int, today: date) -> None:
    if measure == r.RECEIVED:
        m.received += value
    elif measure.startswith(r.DECIDED):
        m.decided[measure.removeprefix(r.DECIDED)] += value
    elif measure == r.WITHIN:
        m.within += value
    elif measure == r.PAST:
        m.past += value
    elif measure == r.DECISION_DAYS:
        m.days[bucket] += value
    elif measure == r.RETURNED:
        m.returned += value
    elif measure == r.APPEALED:
        m.appealed += value
    elif measure == r.ESCALATED:
        m.escalated += value
    elif measure.startswith(r.FEE_DEMANDED):
        m.fee_demanded += value
    elif measure.startswith(r.FEE_COLLECTED):
        m.fee_collected += value
    elif measure == r.OPEN and day is not None:
        m.open += value
        m.ages[age_band((today - day).days)] += value
    elif measure == r.OPEN_DUE and day is not None:
        if day < today:
            m.overdue += value
        elif day == today:
            m.due_today += value


def dashboard(session: Session, place: Place, start: date, end: date, today: date, *, service: str | None = None) -> Dashboard:
    """The place's dashboard for the days ``start``..``end`` (pendency: as of ``today``). Two queries."""
    # The state reads the district sums (a few rows per district and day); the rest read the counts.
    table: Any = DistrictCount if place.level == "state" else Count
    child = DistrictCount.district_code if place.level == "state" else _child_column(place)
    where = [DistrictCount.state_code == place.code] if place.level == "state" else [_where(place)]
    if service:
        where.append(table.subject == service)
    stock = or_(table.measure == r.OPEN, table.measure == r.OPEN_DUE, table.measure.startswith(r.OPEN_ROLE))
    flows = session.execute(
        select(child, table.subject, table.measure, table.bucket, func.sum(table.value))
        .where(*where, table.day >= start, table.day <= end, ~stock)
        .group_by(child, table.subject, table.measure, table.bucket)
    ).all()
    stocks = session.execute(
        select(child, table.subject, table.measure, table.day, func.sum(table.value))
        .where(*where, stock)
        .group_by(child, table.subject, table.measure, table.day)
    ).all()
    cells: dict[tuple[str, str], Measures] = defaultdict(Measures)
    roles: dict[str, Measures] = defaultdict(Measures)
    fees: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, subject, measure, bucket, value in flows:
        _apply(cells[(key, subject)], measure, bucket, None, int(value), today)
        if measure.startswith(r.FEE_DEMANDED):
            fees[measure.removeprefix(r.FEE_DEMANDED)][0] += int(value)
        elif measure.startswith(r.FEE_COLLECTED):
            fees[measure.removeprefix(r.FEE_COLLECTED)][1] += int(value)
    for key, subject, measure, day, value in stocks:
        if measure.startswith(r.OPEN_ROLE):
            role = roles[measure.removeprefix(r.OPEN_ROLE)]
            role.open += int(value)
            if day < today:
                role.overdue += int(value)
            elif day == today:
                role.due_today += int(value)
        else:
            _apply(cells[(key, subject)], measure, 0, day, int(value), today)
    total = Measures()
    by_service: dict[str, Measures] = defaultdict(Measures)
    by_child: dict[str, list[Measures]] = defaultdict(list)
    for (key, subject), m in cells.items():
        total.add(m)
        by_service[subject].add(m)
        by_child[key].append(m)
    total.ili = ili(list(by_service.values()))
    for m in by_service.values():
        m.ili = ili([m])
    children: list[tuple[Place, Measures]] = []
    if place.level != "ward":
        for kid in children_of(session, place):
            m = Measures()
            for part in by_child.get(kid.code, []):
                m.add(part)
            m.ili = ili(by_child.get(kid.code, []))
            children.append((kid, m))
        if place.level == "body" and by_child.get(""):  # cases that name no ward
            m = Measures()
            for part in by_child[""]:
                m.add(part)
            m.ili = ili(by_child[""])
            children.append((Place("ward", "", {}, place.state_code, place.code, place), m))
        children.sort(key=lambda pm: (pm[1].ili is None, -(pm[1].ili or 0), pm[0].code))
    outcomes = sorted({o for m in by_service.values() for o in m.decided})
    return Dashboard(
        place=place,
        start=start,
        end=end,
        today=today,
        total=total,
        children=children,
        services=sorted(by_service.items()),
        roles=sorted(roles.items()),
        fees=sorted((head, d, c) for head, (d, c) in fees.items()),
        outcomes=outcomes,
    )


def period(today: date, start: date | None, end: date | None, *, days: int = 90) -> tuple[date, date]:
    """The dates asked for, else the last ``days`` days to today; at most ten years, start not after end."""
    end = end or today
    start = start or end - timedelta(days=days - 1)
    if start > end:
        start, end = end, start
    return max(start, end - timedelta(days=3660)), end


def service_names(session: Session, state_code: str) -> dict[str, dict[str, str]]:
    """The current services' names of a state, by code (pack text, in every language the pack has)."""
    rows = session.execute(
        select(ServiceVersion.code, ServiceVersion.definition).where(
            ServiceVersion.state_code == state_code, ServiceVersion.is_current.is_(True)
        )
    )
    return {code: dict(definition.get("name") or {"en": code}) for code, definition in rows}


def role_names(session: Session, state_code: str) -> dict[str, dict[str, str]]:
    return {role.code: role.name for role in session.scalars(select(Role).where(Role.state_code == state_code))}

"""The open datasets of each state: what they hold, their data dictionaries, and their rows.

Per state: the service catalogue (fees and time limits), daily service levels per local body
and service (from the rollups; counts from 1 to 4 as "< 5", and so that a month's total on the
public dashboard less the other days cannot reveal a hidden day, a month of a body's service
with exactly one hidden day hides its next smallest day too), and the ledger's signed
checkpoints. Rows are read when asked for: the data are as fresh as the rollups, whose fold runs
every few seconds; days are published once complete (up to yesterday in the state's time zone).
Licence: the Government Open Data Licence - India.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, case, func, literal, select, tuple_
from sqlalchemy.orm import Session

from nagara.analytics import rollups as r
from nagara.analytics.models import Count
from nagara.analytics.tables import THRESHOLD
from nagara.catalog.models import ServiceVersion
from nagara.ledger.models import SignedCheckpoint
from nagara.tenancy.models import LocalBody, State

LICENSE_ID = "GODL-India"
LICENSE_TITLE = "Government Open Data Licence - India"
LICENSE_URL = "https://data.gov.in/government-open-data-license-india"
SMALL = "< 5"


@dataclass(frozen=True)
class Field:
    id: str
    type: str  # CKAN datastore: text | int | numeric | date | timestamp
    description: str

    @property
    def frictionless_type(self) -> str:
        return {"text": "string", "int": "integer", "numeric": "number", "date": "date", "timestamp": "datetime"}[self.type]


@dataclass(frozen=True)
class Resource:
    id: str
    name: str
    description: str
    fields: tuple[Field, ...]
    kind: str  # catalogue | levels | checkpoints


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    notes: str
    state_code: str
    state_name: str
    tags: tuple[str, ...]
    groups: tuple[str, ...]
    resources: tuple[Resource, ...] = field(default_factory=tuple)


GROUPS = {
    "service-delivery": "Service delivery",
    "finance": "Fees and finance",
    "transparency": "Transparency",
}

CATALOGUE_FIELDS = (
    Field("state", "text", "State code"),
    Field("service", "text", "Service code"),
    Field("name", "text", "Service name (English)"),
    Field("version", "int", "Version of the service definition"),
    Field("time_limit_days", "int", "Time limit to a decision, in working days (Right to Service)"),
    Field("fee_items", "text", "Fee items: code (kind) and, for a fixed amount, rupees; conditions apply"),
)
COUNT_NOTE = " (a whole number; 1 to 4 is published as '< 5')"
LEVEL_FIELDS = (
    Field("date", "date", "Day, in the state's time zone"),
    Field("state", "text", "State code"),
    Field("district", "text", "District code"),
    Field("local_body", "text", "Local body code"),
    Field("service", "text", "Service code"),
    Field("received", "int", "Applications submitted" + COUNT_NOTE),
    Field("decided", "int", "Applications decided (approved, rejected or withdrawn)" + COUNT_NOTE),
    Field("decided_within_limit", "int", "Decided (not withdrawn) within the service's time limit" + COUNT_NOTE),
    Field("decided_past_limit", "int", "Decided (not withdrawn) after the service's time limit" + COUNT_NOTE),
    Field("returned", "int", "Times office work was returned to the applicant" + COUNT_NOTE),
    Field("appealed", "int", "Appeals filed" + COUNT_NOTE),
)
CHECKPOINT_FIELDS = (
    Field("size", "int", "Number of entries in the log"),
    Field("origin", "text", "The log's name"),
    Field("root_hash", "text", "RFC 9162 Merkle tree root, base64"),
    Field("signed_at", "timestamp", "When the checkpoint was signed (UTC)"),
)
COUNT_FIELDS = ("received", "decided", "decided_within_limit", "decided_past_limit", "returned", "appealed")


def datasets(session: Session) -> list[Dataset]:
    out: list[Dataset] = []
    for state in session.scalars(select(State).order_by(State.code)):
        name = state.name.get("en") or state.code
        code = state.code
        out += [
            Dataset(
                f"{code}-service-catalogue",
                f"Services of {name}: fees and time limits",
                f"Every service the local bodies of {name} offer online, with its time limit and fee items.",
                code,
                name,
                ("services", "fees", "right-to-service"),
                ("service-delivery", "finance"),
                (
                    Resource(
                        f"{code}-service-catalogue", "Service catalogue", "One row per service.", CATALOGUE_FIELDS, "catalogue"
                    ),
                ),
            ),
            Dataset(
                f"{code}-service-levels-daily",
                f"Daily service levels of {name}, by local body and service",
                f"Applications received, decided, within and past the time limit, returned and appealed, per day, local body "
                f"and service in {name}. Counts from 1 to 4 are published as '< 5'. No personal data.",
                code,
                name,
                ("service-levels", "right-to-service", "statistics"),
                ("service-delivery",),
                (
                    Resource(
                        f"{code}-service-levels-daily",
                        "Daily service levels",
                        "One row per day, body and service.",
                        LEVEL_FIELDS,
                        "levels",
                    ),
                ),
            ),
            Dataset(
                f"{code}-ledger-checkpoints",
                f"Public ledger checkpoints of {name}",
                "Every signed checkpoint of the transparency log (C2SP tlog-checkpoint): its size, origin and root hash.",
                code,
                name,
                ("transparency", "ledger"),
                ("transparency",),
                (
                    Resource(
                        f"{code}-ledger-checkpoints",
                        "Ledger checkpoints",
                        "One row per signed checkpoint.",
                        CHECKPOINT_FIELDS,
                        "checkpoints",
                    ),
                ),
            ),
        ]
    return out


def find_dataset(session: Session, name_or_id: str) -> Dataset | None:
    return next((d for d in datasets(session) if d.name == name_or_id), None)


def find_resource(session: Session, resource_id: str) -> tuple[Dataset, Resource] | None:
    for d in datasets(session):
        for res in d.resources:
            if res.id == resource_id:
                return d, res
    return None


# Rows


@dataclass
class Query:
    filters: dict[str, Any] = field(default_factory=dict)
    q: str | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int = 100
    offset: int = 0


def _catalogue(session: Session, state_code: str) -> list[dict[str, Any]]:
    rows = []
    for version in session.scalars(
        select(ServiceVersion).where(ServiceVersion.state_code == state_code, ServiceVersion.is_current.is_(True))
    ):
        d = version.definition
        items = [_fee_item(i) for i in (d.get("fees") or {}).get("items", []) if isinstance(i, dict)]
        rows.append(
            {
                "state": state_code,
                "service": version.code,
                "name": (d.get("name") or {}).get("en", version.code),
                "version": version.version,
                "time_limit_days": d.get("workflow", {}).get("sla_days"),
                "fee_items": "; ".join(items),
            }
        )
    return rows


def _fee_item(item: dict[str, Any]) -> str:
    """``code (kind): rupees`` for a fixed amount, ``code (kind)`` for a slab or a rate."""
    text = f"{item.get('code')} ({item.get('kind', 'fixed')})"
    amount = item.get("amount")
    return f"{text}: {int(amount) / 100:.2f}" if isinstance(amount, int) else text


def _checkpoints(session: Session) -> list[dict[str, Any]]:
    return [
        {
            "size": c.size,
            "origin": c.origin,
            "root_hash": base64.b64encode(c.root_hash).decode(),
            "signed_at": c.created_at.isoformat(),
        }
        for c in session.scalars(select(SignedCheckpoint).order_by(SignedCheckpoint.size))
    ]


def in_python(rows: list[dict[str, Any]], query: Query, fields: Sequence[Field]) -> tuple[list[dict[str, Any]], int]:
    """Filters, full-text q, sort, offset and limit over a small resource held in memory."""
    for key, value in query.filters.items():
        wanted = {str(v) for v in value} if isinstance(value, list) else {str(value)}
        rows = [row for row in rows if str(row.get(key)) in wanted]
    if query.q:
        needle = query.q.casefold()
        rows = [row for row in rows if any(needle in str(v).casefold() for v in row.values())]
    for key, descending in reversed(query.sort):
        rows.sort(key=lambda row: (row.get(key) is None, row.get(key)), reverse=descending)
    return rows[query.offset : query.offset + query.limit], len(rows)


def _level_select(state_code: str, yesterday: date) -> Any:
    decided = Count.measure.startswith(r.DECIDED)

    def total(condition: Any) -> Any:
        return func.sum(case((condition, Count.value), else_=literal(0, Integer)))

    return (
        select(
            Count.day.label("date"),
            Count.state_code.label("state"),
            Count.district_code.label("district"),
            Count.local_body_code.label("local_body"),
            Count.subject.label("service"),
            total(Count.measure == r.RECEIVED).label("received"),
            total(decided).label("decided"),
            total(Count.measure == r.WITHIN).label("decided_within_limit"),
            total(Count.measure == r.PAST).label("decided_past_limit"),
            total(Count.measure == r.RETURNED).label("returned"),
            total(Count.measure == r.APPEALED).label("appealed"),
        )
        .where(
            Count.state_code == state_code,
            Count.day <= yesterday,
            (Count.measure.in_([r.RECEIVED, r.WITHIN, r.PAST, r.RETURNED, r.APPEALED])) | decided,
        )
        .group_by(Count.day, Count.state_code, Count.district_code, Count.local_body_code, Count.subject)
        .subquery()
    )


def _month(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


def _suppress_levels(session: Session, levels: Any, page: list[dict[str, Any]]) -> None:
    """Primary and secondary suppression of the page's rows, secondary over each month of a body's service."""
    if not page:
        return
    pairs = sorted({(row["local_body"], row["service"]) for row in page})
    first = min(_month(row["date"])[0] for row in page)
    last = max(_month(row["date"])[1] for row in page)
    whole = session.execute(
        select(levels).where(
            tuple_(levels.c.local_body, levels.c.service).in_(pairs), levels.c.date >= first, levels.c.date <= last
        )
    ).mappings()
    groups: dict[tuple[str, str, date], list[dict[str, Any]]] = defaultdict(list)
    for found in whole:
        groups[(found["local_body"], found["service"], _month(found["date"])[0])].append(dict(found))
    hidden: set[tuple[str, str, date, str]] = set()
    for (body, service, _start), days in groups.items():
        for name in COUNT_FIELDS:
            small = [day for day in days if 0 < int(day[name]) < THRESHOLD]
            for day in small:
                hidden.add((body, service, day["date"], name))
            if len(small) == 1:
                shown = [day for day in days if int(day[name]) >= THRESHOLD]
                if shown:
                    hidden.add((body, service, min(shown, key=lambda day: int(day[name]))["date"], name))
    for row in page:
        for name in COUNT_FIELDS:
            row[name] = SMALL if (row["local_body"], row["service"], row["date"], name) in hidden else int(row[name])


def _levels(
    session: Session, state_code: str, query: Query, fields: Sequence[Field], yesterday: date
) -> tuple[list[dict[str, Any]], int]:
    levels = _level_select(state_code, yesterday)
    columns = {f.id: levels.c[f.id] for f in fields}
    where = []
    for key, value in query.filters.items():
        values = value if isinstance(value, list) else [value]
        if key == "date":
            values = [date.fromisoformat(str(v)) for v in values]
        where.append(columns[key].in_(values))
    if query.q:
        needle = f"%{query.q}%"
        where.append(levels.c.local_body.ilike(needle) | levels.c.service.ilike(needle) | levels.c.district.ilike(needle))
    order = [columns[key].desc() if descending else columns[key].asc() for key, descending in query.sort]
    order += [levels.c.date, levels.c.local_body, levels.c.service]
    total = int(session.scalar(select(func.count()).select_from(levels).where(*where)) or 0)
    page = [
        dict(row)
        for row in session.execute(
            select(levels).where(*where).order_by(*order).offset(query.offset).limit(query.limit)
        ).mappings()
    ]
    _suppress_levels(session, levels, page)
    for row in page:
        row["date"] = row["date"].isoformat()
    return page, total


def rows(session: Session, dataset: Dataset, resource: Resource, query: Query, today: date) -> tuple[list[dict[str, Any]], int]:
    """One page of a resource's rows and how many match in all."""
    if resource.kind == "levels":
        return _levels(session, dataset.state_code, query, resource.fields, today - timedelta(days=1))
    everything = _catalogue(session, dataset.state_code) if resource.kind == "catalogue" else _checkpoints(session)
    return in_python(everything, query, resource.fields)


def all_rows(
    session: Session, dataset: Dataset, resource: Resource, today: date, *, page: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every row, a page at a time (the CSV and JSON downloads)."""
    offset = 0
    while True:
        found, _total = rows(session, dataset, resource, Query(limit=page, offset=offset), today)
        yield from found
        if len(found) < page:
            return
        offset += page


def local_bodies(session: Session) -> list[LocalBody]:
    return list(session.scalars(select(LocalBody).order_by(LocalBody.code)))

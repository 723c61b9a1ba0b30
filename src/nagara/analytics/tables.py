"""A dashboard as tables: the same rows for the page, its CSV downloads and the open data, with
small numbers suppressed for the public.

Suppression (public tables): a count from 1 to 4 shows as "< 5" (:data:`SMALL`). So that a total
less the other cells cannot reveal it, a column (or the age bands of a row) with exactly one
suppressed cell has its next smallest count suppressed too; a share or a number of days is shown
only when the counts it comes from are 0 or at least 5. The public sees whole calendar months only,
so no two periods differ by a few days. Money is shown only when at least 5 cases paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nagara.analytics.service import AGE_BANDS, Dashboard, Measures
from nagara.web.i18n import N_

THRESHOLD = 5


class Small:
    """A suppressed cell: fewer than five."""

    def __str__(self) -> str:
        return "< 5"

    def __repr__(self) -> str:
        return "SMALL"


SMALL = Small()


@dataclass
class Column:
    key: str
    title: str  # an English msgid, translated where shown
    kind: str = "count"  # count | share | days | index | money | text | rank


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)  # where each row's name leads (drill-down)
    total: list[Any] | None = None

    def column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)


def _small(n: Any) -> bool:
    return isinstance(n, int) and 0 < n < THRESHOLD


def _share(m: Measures, public: bool) -> Any:
    if m.within_share is None:
        return None
    if public and (_small(m.within) or _small(m.past)):
        return SMALL
    return round(100 * m.within_share, 1)


def _days(m: Measures, value: int | None, public: bool) -> Any:
    if value is None:
        return None
    return SMALL if public and sum(m.days.values()) < THRESHOLD else value


def _ili(m: Measures, public: bool) -> Any:
    if m.ili is None:
        return None
    return SMALL if public and (_small(m.received + m.open) or _small(m.within) or _small(m.past) or _small(m.overdue)) else m.ili


LEVEL_COLUMNS = [
    Column("received", N_("Received")),
    Column("decided", N_("Decided")),
    Column("within", N_("Decided within the time limit (per cent)"), "share"),
    Column("median", N_("Median days to decide"), "days"),
    Column("p90", N_("90th percentile, days"), "days"),
    Column("open", N_("Open now")),
    Column("overdue", N_("Overdue now")),
    Column("due_today", N_("Due today")),
    Column("ili", N_("Institution Level Index"), "index"),
]
OFFICER_COLUMNS = [
    Column("approved", N_("Approved")),
    Column("rejected", N_("Rejected")),
    Column("withdrawn", N_("Withdrawn")),
    Column("returned", N_("Returned to the applicant")),
    Column("appealed", N_("Appealed")),
]
AGE_TITLES = [N_("0 to 7 days"), N_("8 to 15 days"), N_("16 to 30 days"), N_("31 to 60 days"), N_("Over 60 days")]


def _row(m: Measures, public: bool) -> list[Any]:
    cells: list[Any] = [
        m.received,
        m.decided_total,
        _share(m, public),
        _days(m, m.median_days, public),
        _days(m, m.p90_days, public),
        m.open,
        m.overdue,
        m.due_today,
        _ili(m, public),
    ]
    if not public:
        cells += [m.decided["approved"], m.decided["rejected"], m.decided["withdrawn"], m.returned, m.appealed]
    return cells


def _suppress(table: Table) -> None:
    """Primary and secondary suppression of every count column (see the module's docstring)."""
    for i, col in enumerate(table.columns):
        if col.kind != "count":
            continue
        for row in table.rows:
            if _small(row[i]):
                row[i] = SMALL
        if table.total is not None and _small(table.total[i]):
            table.total[i] = SMALL
        hidden = [row for row in table.rows if row[i] is SMALL]
        if len(hidden) == 1 and table.total is not None and table.total[i] is not SMALL:
            shown = [row for row in table.rows if isinstance(row[i], int) and row[i] > 0]
            if shown:
                min(shown, key=lambda row: row[i])[i] = SMALL


def _suppress_across(row: list[Any], columns: range) -> None:
    for i in columns:
        if _small(row[i]):
            row[i] = SMALL
    hidden = [i for i in columns if row[i] is SMALL]
    if len(hidden) == 1:
        shown = [i for i in columns if isinstance(row[i], int) and row[i] > 0]
        if shown:
            row[min(shown, key=lambda i: row[i])] = SMALL


def tables(d: Dashboard, *, public: bool, child_link: Any = None) -> list[Table]:
    """The dashboard's tables: places one level down (ranked), services, pendency by age, roles, fees."""
    columns = LEVEL_COLUMNS + ([] if public else OFFICER_COLUMNS)
    out: list[Table] = []
    if d.children:
        places = Table(
            "places",
            N_("By place, ranked by the Institution Level Index"),
            [Column("rank", N_("Rank"), "rank"), Column("place", N_("Place"), "text"), *columns],
        )
        for rank, (kid, m) in enumerate(d.children, start=1):
            places.rows.append([rank if m.ili is not None else None, kid, *_row(m, public)])
            places.links.append(child_link(kid) if child_link and kid.code else None)
        places.total = [None, None, *_row(d.total, public)]
        out.append(places)
    services = Table("services", N_("By service"), [Column("service", N_("Service"), "text"), *columns])
    for code, m in d.services:
        services.rows.append([code, *_row(m, public)])
        services.links.append(None)
    services.total = [None, *_row(d.total, public)]
    out.append(services)
    ages = Table(
        "ages",
        N_("Open work by age"),
        [Column("place", N_("Place"), "text")]
        + [Column(f"age{i}", t) for i, t in enumerate(AGE_TITLES)]
        + [Column("open", N_("Open now"))],
    )
    ages.rows.append([d.place, *[d.total.ages[i] for i in range(len(AGE_BANDS))], d.total.open])
    ages.links.append(None)
    out.append(ages)
    roles = Table(
        "roles",
        N_("Open work by the role holding it"),
        [
            Column("role", N_("Role"), "text"),
            Column("open", N_("Open now")),
            Column("overdue", N_("Overdue now")),
            Column("due_today", N_("Due today")),
        ],
    )
    for role, m in d.roles:
        roles.rows.append([role, m.open, m.overdue, m.due_today])
        roles.links.append(None)
    roles.total = [
        None,
        sum(m.open for _, m in d.roles),
        sum(m.overdue for _, m in d.roles),
        sum(m.due_today for _, m in d.roles),
    ]
    out.append(roles)
    fees = Table(
        "fees",
        N_("Fees by account head"),
        [
            Column("head", N_("Account head"), "text"),
            Column("demanded", N_("Demanded"), "money"),
            Column("collected", N_("Collected"), "money"),
        ],
    )
    for head, demanded, collected in d.fees:
        fees.rows.append([head, demanded, collected])
        fees.links.append(None)
    fees.total = [None, sum(f[1] for f in d.fees), sum(f[2] for f in d.fees)]
    if not public:
        out.append(fees)
    if public:
        for table in out:
            _suppress(table)
        _suppress_across(ages.rows[0], range(1, 1 + len(AGE_BANDS)))
    return out

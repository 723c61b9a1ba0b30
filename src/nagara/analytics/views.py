"""The public dashboard: service levels of every state, district, local body and ward, by calendar
month, small numbers suppressed; each table also as CSV. The officers' dashboard is in
``officer/dashboard.py`` and shares the tables, charts and CSV of this module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from nagara.analytics import service
from nagara.analytics.tables import SMALL, Table, tables
from nagara.identity.deps import DbSession
from nagara.kit import spreadsheet
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid
from nagara.tenancy.models import State
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.templating import localised, render

router = APIRouter(include_in_schema=False)

NO_WARD = N_("No ward given")
TABLE_KEYS = ("places", "services", "ages", "roles", "fees")


def bad(field: str, message: str) -> Invalid:
    return Invalid(message, [{"loc": ["query", field], "msg": message, "type": "value_error"}])


def today_in(session: Session, state_code: str) -> date:
    state = session.get(State, state_code)
    zone = ZoneInfo(state.timezone) if state is not None else ZoneInfo("Asia/Kolkata")
    return utcnow().astimezone(zone).date()


def parse_month(value: str | None, today: date) -> tuple[date, date]:
    """A calendar month ``YYYY-MM`` (default: this month) as its first and last day."""
    if not value:
        year, month = today.year, today.month
    else:
        try:
            year, month = (int(part) for part in value.split("-"))
            date(year, month, 1)
        except ValueError:
            raise bad("month", f"month {value[:20]!r} is not a month: write it as YYYY-MM, such as 2026-11") from None
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1).toordinal() - 1
    return start, date.fromordinal(end)


def parse_date(field: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad(field, f"{field} {value[:20]!r} is not a date: write it as YYYY-MM-DD") from None


def months_before(today: date, n: int = 24) -> list[str]:
    out, year, month = [], today.year, today.month
    for _i in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def display(value: Any, kind: str, names: dict[str, Any]) -> str:
    """A cell as text, in the page's language: a place or service by name, "< 5", a share with %."""
    if value is None:
        return ""
    if value is SMALL:
        return str(SMALL)
    if isinstance(value, service.Place):
        return localised(value.name) if value.code else _(NO_WARD)
    if kind == "text":
        return localised(names.get(str(value))) or str(value)
    if kind == "money":
        return f"{int(value) / 100:.2f}"
    return str(value)


def csv_response(table: Table, names: dict[str, Any], filename: str) -> Response:
    def rows() -> Iterator[list[str]]:
        for row in table.rows:
            yield [display(v, c.kind, names) for v, c in zip(row, table.columns, strict=True)]
        if table.total is not None:
            yield [
                _("Total") if i == (1 if table.key == "places" else 0) else display(v, c.kind, names)
                for i, (v, c) in enumerate(zip(table.total, table.columns, strict=True))
            ]

    header = [_(c.title) for c in table.columns]
    return spreadsheet.response(filename, header, rows())


def pick_table(found: list[Table], key: str | None) -> Table:
    for table in found:
        if table.key == key:
            return table
    keys = ", ".join(t.key for t in found)
    raise bad("table", f"table {str(key)[:20]!r} is not one of this dashboard's tables: {keys}")


def trail(place: service.Place) -> list[service.Place]:
    out: list[service.Place] = []
    at: service.Place | None = place
    while at is not None:
        out.insert(0, at)
        at = at.parent
    return out


def chart_bars(table: Table | None, column: str, names: dict[str, Any], *, limit: int = 30) -> list[dict[str, Any]]:
    """The bars of a horizontal bar chart of one column of a table (suppressed and empty cells left out)."""
    if table is None:
        return []
    i = table.column(column)
    name_at = 1 if table.key == "places" else 0
    bars = []
    for row in table.rows[:limit]:
        value = row[i]
        if isinstance(value, (int, float)):
            bars.append({"label": display(row[name_at], table.columns[name_at].kind, names), "value": value})
    return _scale(bars)


def _scale(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each bar's length in % of the chart's width (the longest 96)."""
    top = max((b["value"] for b in bars), default=0) or 1
    for b in bars:
        b["width"] = round(96 * b["value"] / top, 1)
    return bars


def context_for(session: Session, d: service.Dashboard, *, public: bool, link: Callable[[service.Place], str]) -> dict[str, Any]:
    found = tables(d, public=public, child_link=link)
    names: dict[str, Any] = {
        **service.service_names(session, d.place.state_code),
        **service.role_names(session, d.place.state_code),
    }
    by_key = {t.key: t for t in found}
    return {
        "dash": d,
        "tables": found,
        "names": names,
        "trail": trail(d.place),
        "display": display,
        "within_bars": chart_bars(by_key.get("places") or by_key.get("services"), "within", names),
        "age_bars": _scale(
            [
                {"label": _(title), "value": v}
                for title, v in zip([c.title for c in by_key["ages"].columns[1:-1]], by_key["ages"].rows[0][1:-1], strict=True)
                if isinstance(v, int)
            ]
        ),
    }


@router.get("/dashboard")
def public_dashboard(request: Request, session: DbSession) -> Response:
    """Every state's service levels for a calendar month; ``place`` drills down to a district, body or ward."""
    code = request.query_params.get("place")
    if not code:
        every = service.states(session)
        if len(every) != 1:
            return render(request, "analytics/states.html", {"page_title": _("Service levels"), "states": every})
        code = every[0].code
    place = service.find_place(session, code[:96])
    today = today_in(session, place.state_code)
    month = request.query_params.get("month")
    start, end = parse_month(month, today)
    d = service.dashboard(session, place, start, end, today)
    context = context_for(
        session, d, public=True, link=lambda p: "/dashboard?" + urlencode({"place": p.code, "month": f"{start:%Y-%m}"})
    )
    context |= {
        "page_title": _("Service levels: %(place)s") % {"place": localised(place.name)},
        "public": True,
        "month": f"{start:%Y-%m}",
        "months": months_before(today),
        "csv": lambda key: "/dashboard.csv?" + urlencode({"place": place.code, "month": f"{start:%Y-%m}", "table": key}),
        "drill": lambda p: "/dashboard?" + urlencode({"place": p.code, "month": f"{start:%Y-%m}"}),
    }
    return render(request, "analytics/public.html", context)


@router.get("/dashboard.csv")
def public_dashboard_csv(request: Request, session: DbSession) -> Response:
    code = request.query_params.get("place")
    if not code:
        raise bad("place", "give the place: a state, district, local body or ward code, such as place=kl")
    place = service.find_place(session, code[:96])
    today = today_in(session, place.state_code)
    start, end = parse_month(request.query_params.get("month"), today)
    d = service.dashboard(session, place, start, end, today)
    table = pick_table(tables(d, public=True), request.query_params.get("table"))
    names = {**service.service_names(session, place.state_code), **service.role_names(session, place.state_code)}
    return csv_response(table, names, f"{place.code}-{start:%Y-%m}-{table.key}.csv")

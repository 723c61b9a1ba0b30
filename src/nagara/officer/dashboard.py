"""The officers' dashboard: service levels of the places their roles cover, for any dates, with
the counts the public does not see (approved, rejected, returned, appealed, fees by head), each
table as CSV, and from each service the inbox of its open work."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nagara.analytics import service
from nagara.analytics.tables import tables
from nagara.analytics.views import context_for, csv_response, parse_date, pick_table, today_in
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.access import Principal
from nagara.officer.common import officer_or_redirect, page
from nagara.web.i18n import gettext as _
from nagara.web.templating import localised

router = APIRouter(include_in_schema=False)


def _asked(request: Request, session: DbSession, officer: Principal) -> service.Dashboard:
    code = request.query_params.get("place")
    place = service.find_place(session, code[:96]) if code else service.home_place(session, officer)
    service.require_place(officer, place)
    today = today_in(session, place.state_code)
    start, end = service.period(
        today, parse_date("start", request.query_params.get("start")), parse_date("end", request.query_params.get("end"))
    )
    return service.dashboard(session, place, start, end, today)


def _query(d: service.Dashboard, place: service.Place, **more: str) -> str:
    return urlencode({"place": place.code, "start": d.start.isoformat(), "end": d.end.isoformat(), **more})


@router.get("/officer/dashboard")
def dashboard(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    d = _asked(request, session, officer)
    context = context_for(session, d, public=False, link=lambda p: "/officer/dashboard?" + _query(d, p))
    context |= {
        "page_title": _("Dashboard: %(place)s") % {"place": localised(d.place.name)},
        "public": False,
        "csv": lambda key: "/officer/dashboard.csv?" + _query(d, d.place, table=key),
        "drill": lambda p: "/officer/dashboard?" + _query(d, p) if service.may_see(officer, p) else "/officer/dashboard",
        "inbox": lambda code: "/officer?" + urlencode({"service": code}),
    }
    return page(request, session, officer, "officer/dashboard.html", context)


@router.get("/officer/dashboard.csv")
def dashboard_csv(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    d = _asked(request, session, officer)
    table = pick_table(tables(d, public=False), request.query_params.get("table"))
    names = {**service.service_names(session, d.place.state_code), **service.role_names(session, d.place.state_code)}
    return csv_response(table, names, f"{d.place.code}-{d.start}-{d.end}-{table.key}.csv")

"""The inbox and search results as a spreadsheet: the columns the pages list, no personal data.

The rows are read in the request's unit of work (at most ``MAX_ROWS``: more is refused,
asking for narrower filters, never cut short silently) and written out as a streamed CSV
(``kit.spreadsheet``: UTF-8 with a BOM, formulas neutralised). Times are in the state's
time zone, ISO 8601 with the offset (four-digit years).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from nagara.applications.models import Application
from nagara.applications.service import services_for
from nagara.kit import spreadsheet
from nagara.kit.access import Principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid
from nagara.tenancy.context import zone_of

MAX_ROWS = 10_000
HEADER = (
    "number",
    "service",
    "service_name",
    "local_body",
    "step",
    "step_name",
    "held_by_role",
    "submitted_at",
    "step_due_at",
    "overdue",
    "open",
    "outcome",
)


def check_size(apps: Sequence[Application]) -> None:
    """Refuse an export of more than ``MAX_ROWS`` (ask for ``MAX_ROWS + 1`` to know)."""
    if len(apps) > MAX_ROWS:
        msg = f"more than {MAX_ROWS:,} applications match; narrow the filters (service, state, local body) to export them"
        raise Invalid(msg, [{"loc": ["query"], "msg": msg, "type": "too_many"}])


def _name(names: Mapping[str, str] | str | None, language: str, fallback: str) -> str:
    if isinstance(names, str):
        return names
    if not names:
        return fallback
    return names.get(language) or names.get("en") or fallback


def _moment(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="minutes") if value else ""


def rows(session: Session, apps: Sequence[Application], language: str) -> list[tuple[object, ...]]:
    now = utcnow()
    out: list[tuple[object, ...]] = []
    services = services_for(session, list(apps))
    for app in apps:
        svc = services[app.id]
        zone = zone_of(session, app.state_code)
        try:
            step_name = _name(svc.state(app.state).get("name"), language, app.state)
        except KeyError:
            step_name = app.state
        out.append(
            (
                app.number,
                app.service_code,
                _name(svc.definition.get("name"), language, app.service_code),
                app.local_body_code,
                app.state,
                step_name,
                app.assigned_role,
                _moment(app.submitted_at, zone),
                _moment(app.state_due_at, zone),
                bool(app.is_open and app.state_due_at is not None and app.state_due_at < now),
                app.is_open,
                app.outcome,
            )
        )
    return out


def download(session: Session, principal: Principal, apps: Sequence[Application], what: str, language: str) -> StreamingResponse:
    """``apps`` (already scoped by the caller's query) as ``<what>-<today>.csv``."""
    check_size(apps)
    today = utcnow().astimezone(zone_of(session, principal.state_code)).date().isoformat()
    return spreadsheet.response(f"{what}-{today}.csv", HEADER, rows(session, apps, language))

"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): the categories as services, public
grievances as service requests; XML as the spec requires, JSON with the ``.json`` suffix.

``jurisdiction_id`` is a local body's code (``kl.tvm-corp``); ``service_request_id`` a grievance's
number. Private grievances and personal data never appear: no name, mobile, e-mail or account.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.grievances.categories import Category, for_body
from nagara.grievances.models import CLOSED, OPEN_STATES, RESOLVED, Grievance, GrievancePhoto
from nagara.kit.errors import Problem
from nagara.tenancy.context import body_place

MAX_RESULTS = 1000  # the spec's default cap
WINDOW = timedelta(days=90)  # the spec's default and longest range
MAX_IDS = 100
XML = "text/xml; charset=utf-8"
JSON = "application/json"


class Open311Error(Exception):
    """An error in the spec's format: a list of ``code`` and ``description``, with an HTTP status."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions) or ["error"]

    @classmethod
    def from_problem(cls, problem: Problem) -> Open311Error:
        errors = problem.extra.get("errors") or []
        descriptions = [f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}" for e in errors] or [problem.detail]
        return cls(400 if problem.status == 422 else problem.status, *descriptions)

    def items(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": d} for d in self.descriptions]


def split_format(name: str) -> tuple[str, str]:
    """``waste.json`` -> (``waste``, ``json``); no suffix is XML (the spec's default)."""
    for fmt in ("json", "xml"):
        if name.endswith("." + fmt):
            return name[: -len(fmt) - 1], fmt
    return name, "xml"


def check_format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"unknown format {fmt!r}; use .xml or .json")
    return fmt


# --- rendering -----------------------------------------------------------------------------------


def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3c(value)
    return escape(str(value))


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, str):
        return f"<{tag}>{escape(value)}</{tag}>"
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{tag}>"
    if isinstance(value, list):
        inner = tag[:-1] if tag.endswith("s") else "item"
        return f"<{tag}>" + "".join(_xml(inner, v) for v in value) + f"</{tag}>"
    return f"<{tag}>{_xml_value(value)}</{tag}>"


def render(fmt: str, root: str, item: str | None, data: Any) -> tuple[str, str]:
    """The body and its media type: ``data`` is a list of ``item`` elements under ``root``, or one ``root`` mapping."""
    if fmt == "json":
        # pydantic-core's encoder: a list of 1,000 requests in half the time of json.dumps.
        return to_json(data, fallback=lambda v: w3c(v) if isinstance(v, datetime) else str(v)).decode(), JSON
    body = _xml(root, data) if item is None else f"<{root}>" + "".join(_xml(item, d) for d in data) + f"</{root}>"
    return '<?xml version="1.0" encoding="utf-8"?>' + body, XML


def render_error(fmt: str, error: Open311Error) -> tuple[str, str]:
    return render(fmt, "errors", "error", error.items())


def w3c(value: datetime) -> str:
    """``2026-12-06T04:22:49Z``: UTC, whole seconds (isoformat is several times cheaper than strftime)."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# --- discovery and services -------------------------------------------------------------------------


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": "2026-12-06T00:00:00Z",
        "contact": "The local body's grievance cell; see /grievances on this portal",
        "key_service": "API keys are issued to partner apps by the state (nagara users create-partner)",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base_url.rstrip("/") + "/open311/v2",
                "changeset": "2026-12-06T00:00:00Z",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def body_of(session: Session, jurisdiction_id: str | None) -> str:
    if not jurisdiction_id:
        raise Open311Error(400, "jurisdiction_id is required: a local body's code, such as kl.tvm-corp")
    try:
        return body_place(session, jurisdiction_id).body.code
    except Problem as exc:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction_id!r} is not a local body here") from exc


def _text(names: Any, language: str) -> str:
    return str(names.get(language) or names.get("en") or "") if isinstance(names, dict) else ""


def service_out(c: Category, language: str) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "service_name": c.name(language),
        "description": _text(c.definition["help"], language),
        "metadata": bool(c.attributes),
        "type": "realtime",
        "keywords": c.code.replace("-", ","),
        "group": _text(c.definition["department"]["name"], language),
    }


def services(session: Session, body: str, language: str) -> list[dict[str, Any]]:
    return [service_out(c, language) for c in for_body(session, body)]


def definition(session: Session, body: str, code: str, language: str) -> dict[str, Any]:
    found = next((c for c in for_body(session, body) if c.code == code), None)
    if found is None:
        raise Open311Error(404, f"service_code {code!r} is not offered at {body}")
    attributes = []
    for order, a in enumerate(found.attributes, start=1):
        attr: dict[str, Any] = {
            "variable": True,
            "code": a["code"],
            "datatype": a["datatype"],
            "required": a["required"],
            "datatype_description": "a date, YYYY-MM-DD" if a["datatype"] == "datetime" else "",
            "order": order,
            "description": _text(a["description"], language),
        }
        if a.get("values"):
            attr["values"] = [{"key": v["key"], "name": _text(v["name"], language)} for v in a["values"]]
        attributes.append(attr)
    return {"service_code": found.code, "attributes": attributes}


# --- requests ----------------------------------------------------------------------------------------


def status_of(g: Any) -> str:
    return "closed" if g.state in (RESOLVED, CLOSED) else "open"


# What a request shows, read as plain columns (no ORM objects: a list of 1,000 paid more to build
# them than its SQL cost), with the id of its last photo (the resolution's, else the citizen's) from a
# correlated subquery, so the whole list is one statement.
LAST_PHOTO = (
    select(GrievancePhoto.id)
    .where(GrievancePhoto.grievance_id == Grievance.id)
    .order_by(GrievancePhoto.uploaded_at.desc(), GrievancePhoto.id.desc())
    .limit(1)
    .correlate(Grievance)
    .scalar_subquery()
    .label("photo_id")
)
REQUEST_COLUMNS = (
    Grievance.number,
    Grievance.state,
    Grievance.level,
    Grievance.resolution_note,
    Grievance.category_code,
    Grievance.description,
    Grievance.department,
    Grievance.created_at,
    Grievance.updated_at,
    Grievance.state_due_at,
    Grievance.address,
    Grievance.ward_code,
    Grievance.lat,
    Grievance.lon,
    LAST_PHOTO,
)


def request_out(g: Any, names: dict[str, str], media_base: str, body_name: str) -> dict[str, Any]:
    """One service request from a row of ``REQUEST_COLUMNS``; times already in the spec's W3C form."""
    closed = g.state in (RESOLVED, CLOSED)
    notes = g.resolution_note if closed else f"{g.state.replace('_', ' ')}, level {g.level}"
    return {
        "service_request_id": g.number,
        "status": "closed" if closed else "open",
        "status_notes": notes or "",
        "service_name": names.get(g.category_code, g.category_code),
        "service_code": g.category_code,
        "description": g.description,
        "agency_responsible": f"{body_name}, {g.department}",
        "service_notice": "",
        "requested_datetime": w3c(g.created_at),
        "updated_datetime": w3c(g.updated_at),
        "expected_datetime": w3c(g.state_due_at) if g.state_due_at is not None else None,
        "address": g.address or "",
        "address_id": g.ward_code or "",
        "zipcode": "",
        "lat": g.lat if g.lat is not None else "",
        "long": g.lon if g.lon is not None else "",
        "media_url": media_base + g.photo_id if g.photo_id else "",
    }


def media_base(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/open311/v2/media/"


def parse_time(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} {value!r} is not a W3C date-time, such as 2026-01-01T00:00:00Z") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def find_requests(
    session: Session,
    body: str,
    *,
    ids: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    now: datetime,
) -> list[Any]:
    """The spec's query: ``service_request_id`` (a comma list) overrides the rest; otherwise the
    last 90 days (or the range given, at most 90 days), newest first, at most 1,000."""
    public = (Grievance.local_body_code == body, Grievance.public.is_(True))
    wanted = _csv(ids)
    if wanted:
        if len(wanted) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values at once")
        q = select(*REQUEST_COLUMNS).where(*public, Grievance.number.in_(wanted))
        return list(session.execute(q.order_by(Grievance.created_at.desc())))
    start, end = parse_time("start_date", start_date), parse_time("end_date", end_date)
    if start is None and end is None:
        end = now
    if start is None:
        start = (end or now) - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise Open311Error(400, "end_date comes before start_date")
    if end - start > WINDOW:
        raise Open311Error(400, "the range from start_date to end_date may not span more than 90 days")
    q = select(*REQUEST_COLUMNS).where(*public, Grievance.created_at >= start, Grievance.created_at <= end)
    codes = _csv(service_code)
    if codes:
        q = q.where(Grievance.category_code.in_(codes))
    statuses = _csv(status)
    for s in statuses:
        if s not in ("open", "closed"):
            raise Open311Error(400, f"status {s!r} is not open or closed")
    if statuses and set(statuses) != {"open", "closed"}:
        q = q.where(Grievance.state.in_(OPEN_STATES) if statuses == ["open"] else Grievance.state.in_((RESOLVED, CLOSED)))
    return list(session.execute(q.order_by(Grievance.created_at.desc()).limit(MAX_RESULTS)))


def number(value: str | None, name: str, limit: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        parsed = float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} {value!r} is not a number") from exc
    if not math.isfinite(parsed) or abs(parsed) > limit:
        raise Open311Error(400, f"{name} must be a finite number between -{limit:g} and {limit:g}")
    return parsed

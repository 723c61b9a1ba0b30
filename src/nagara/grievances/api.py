"""Grievance routes: file, track, act, rate, reopen, me too, merge, transfer; categories and the
public list of a local body (no personal data)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from nagara.grievances import open311, public, service
from nagara.grievances.categories import for_body
from nagara.grievances.models import Grievance, GrievancePhoto
from nagara.grievances.photos import MAX_PHOTO_BYTES, check_photo
from nagara.grievances.schemas import (
    BulkAssignIn,
    CategoryOut,
    GrievanceActIn,
    GrievanceIn,
    GrievanceOut,
    PublicGrievanceOut,
)
from nagara.identity import service as identity
from nagara.identity.deps import CurrentPrincipal, DbSession
from nagara.kit.api import API_PREFIX, MAX_OFFSET, json_response
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid, NotFound, Problem
from nagara.runtime import runtime_of
from nagara.tenancy.context import body_place

router = APIRouter(prefix=API_PREFIX, tags=["grievances"])


@router.get("/tenants/{tenant}/grievance-categories", response_model=list[CategoryOut])
def categories(tenant: str, session: DbSession) -> Response:
    """What a citizen may complain about at this local body: names, help, levels and attributes."""
    return json_response([CategoryOut.model_validate(c.definition) for c in for_body(session, tenant)])


@router.post("/tenants/{tenant}/grievances", status_code=status.HTTP_201_CREATED, response_model=GrievanceOut)
def file(tenant: str, body: GrievanceIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """File a grievance: a citizen for themself, or a call-centre operator or counter clerk for a caller
    (``caller_mobile``). It is assigned to the first level's officer at once."""
    now = utcnow()
    filing = service.Filing(
        tenant,
        body.category,
        body.description,
        service.Where(body.ward, body.address, body.lat, body.lon),
        body.attributes,
    )
    citizen_id = service.caller(session, principal, tenant, body.caller_mobile) if body.caller_mobile else None
    channel = "assisted" if citizen_id else "portal"
    g = service.file(session, principal, filing, now=now, channel=channel, citizen_id=citizen_id)
    return json_response(public.full(session, principal, g, now), status.HTTP_201_CREATED, {"ETag": f'"{g.version}"'})


@router.get("/grievances", response_model=list[GrievanceOut])
def search(
    session: DbSession,
    principal: CurrentPrincipal,
    local_body: str | None = None,
    category: str | None = None,
    state: str | None = None,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """A citizen's own grievances; for officers, those of their jurisdiction, soonest due first (the inbox)."""
    now = utcnow()
    found = public.search(
        session, principal, local_body=local_body, category=category, state=state, level=level, overdue=overdue,
        limit=limit, offset=offset, now=now,
    )  # fmt: skip
    return json_response([public.full(session, principal, g, now, history=False) for g in found])


@router.get("/grievances/{number}", response_model=GrievanceOut)
def get(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Track a grievance: where it is, at which level, due when, and its whole history."""
    g = service.read(session, principal, number)
    return json_response(public.full(session, principal, g, utcnow()), headers={"ETag": f'"{g.version}"'})


@router.post("/grievances/{number}/actions", response_model=GrievanceOut)
def act(number: str, body: GrievanceActIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Take a step: officers start, assign, transfer, reply, resolve, merge; the citizen confirms, rates
    (1-5; a poor rating appeals to the next level) or reopens. A stale version gets 412."""
    now = utcnow()
    a = service.Act(
        body.action, body.version, body.comment, body.due_on, body.to_user, body.to_category, body.to_local_body,
        body.into, body.rating,
    )  # fmt: skip
    g = service.act(session, principal, number, a, now=now)
    return json_response(public.full(session, principal, g, now), headers={"ETag": f'"{g.version}"'})


@router.post("/grievances/{number}/resolution", response_model=GrievanceOut)
async def resolve_with_photo(
    number: str,
    session: DbSession,
    principal: CurrentPrincipal,
    version: Annotated[int, Form(ge=1, le=2**31)],
    comment: Annotated[str, Form(max_length=2000)],
    photo: Annotated[UploadFile, File(description=f"JPEG, PNG or WebP, at most {MAX_PHOTO_BYTES:,} bytes")],
) -> Response:
    """Resolve with a note and a photo of the work done (the photo is served publicly without its EXIF data)."""
    content = await photo.read(MAX_PHOTO_BYTES + 1)
    checked = check_photo(content)
    now = utcnow()
    g = service.act(session, principal, number, service.Act("resolve", version, comment, photo=checked), now=now)
    return json_response(public.full(session, principal, g, now), headers={"ETag": f'"{g.version}"'})


@router.post("/grievances/{number}/photos", status_code=status.HTTP_201_CREATED, response_model=GrievanceOut)
async def add_photo(
    number: str,
    session: DbSession,
    principal: CurrentPrincipal,
    photo: Annotated[UploadFile, File(description=f"JPEG, PNG or WebP, at most {MAX_PHOTO_BYTES:,} bytes")],
) -> Response:
    """The citizen adds a photo of the problem to their open grievance."""
    content = await photo.read(MAX_PHOTO_BYTES + 1)
    checked = check_photo(content)
    now = utcnow()
    g = service.add_photo(session, principal, number, checked, now=now)
    return json_response(public.full(session, principal, g, now), status.HTTP_201_CREATED)


@router.post("/grievances/{number}/me-too", response_model=PublicGrievanceOut)
def me_too(number: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Say "me too" on an open public grievance instead of filing it again (once per citizen)."""
    g = service.me_too(session, principal, number, now=utcnow())
    return json_response(public.public_out(session, g, utcnow()))


@router.post("/grievances/bulk-assign", response_model=list[GrievanceOut])
def bulk_assign(body: BulkAssignIn, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Assign several grievances to one field officer: all or none."""
    now = utcnow()
    if len(set(body.numbers)) != len(body.numbers):
        raise Invalid(
            "a grievance is named twice", [{"loc": ["body", "numbers"], "msg": "name each grievance once", "type": "value_error"}]
        )
    found = service.bulk_assign(session, principal, body.numbers, body.to_user, now=now)
    return json_response([public.full(session, principal, g, now, history=False) for g in found])


@router.get("/local-bodies/{code}/public-grievances", response_model=list[PublicGrievanceOut])
def public_list(
    code: str,
    session: DbSession,
    category: str | None = None,
    ward: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    overdue: bool | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """Public grievances of a local body, newest first: never the citizen's name, mobile or any private grievance."""
    now = utcnow()
    found = public.public_list(
        session, code, category=category, ward=ward, status=status_, level=level, overdue=overdue, since=since,
        limit=limit, offset=offset, now=now,
    )  # fmt: skip
    return json_response([public.public_out(session, g, now) for g in found])


@router.get("/public-grievances/{number}", response_model=PublicGrievanceOut)
def public_one(number: str, session: DbSession) -> Response:
    """One public grievance with its timeline's state (the citizen's details never)."""
    g = public.public_get(session, number)
    return json_response(public.public_out(session, g, utcnow()))


# --- Open311 GeoReport v2, outside /api/v1 (the spec's paths, formats and errors) -------------------

open311_router = APIRouter(prefix="/open311/v2", tags=["open311"])


def _respond(fmt: str, root: str, item: str | None, data: Any, status_code: int = 200) -> Response:
    body, media_type = open311.render(fmt, root, item, data)
    return Response(body, status_code=status_code, media_type=media_type)


def _error(fmt: str, error: open311.Open311Error) -> Response:
    body, media_type = open311.render_error(fmt if fmt in ("json", "xml") else "xml", error)
    return Response(body, status_code=error.status, media_type=media_type)


def _base(request: Request) -> str:
    return str(request.base_url)


def _language(request: Request) -> str:
    header = request.headers.get("accept-language", "en")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("en", "ml", "kn", "hi", "ur"):
            return code
    return "en"


def _open311(fmt: str, run: Callable[[], Response], session: Session | None = None) -> Response:
    try:
        open311.check_format(fmt)
        return run()
    except open311.Open311Error as exc:
        if session is not None:
            session.rollback()  # nothing is stored for a refused request
        return _error(fmt, exc)
    except Problem as exc:
        if session is not None:
            session.rollback()
        return _error(fmt, open311.Open311Error.from_problem(exc))


@open311_router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    """Where the endpoint is and which formats it speaks."""
    return _open311(fmt, lambda: _respond(fmt, "discovery", None, open311.discovery(_base(request))))


@open311_router.get("/services.{fmt}")
def services(fmt: str, request: Request, session: DbSession, jurisdiction_id: str | None = None) -> Response:
    """The categories of a local body (``jurisdiction_id``) as Open311 services."""

    def run() -> Response:
        body = open311.body_of(session, jurisdiction_id)
        return _respond(fmt, "services", "service", open311.services(session, body, _language(request)))

    return _open311(fmt, run)


@open311_router.get("/services/{code}")
def service_definition(code: str, request: Request, session: DbSession, jurisdiction_id: str | None = None) -> Response:
    """A category's attributes (``services/<code>.json`` or ``.xml``)."""
    code, fmt = open311.split_format(code)

    def run() -> Response:
        body = open311.body_of(session, jurisdiction_id)
        return _respond(fmt, "service_definition", None, open311.definition(session, body, code, _language(request)))

    return _open311(fmt, run)


def _requests_out(session: Session, request: Request, body: str, found: list[Any], language: str) -> list[dict[str, Any]]:
    """Rows of ``open311.REQUEST_COLUMNS`` of one local body as service requests (no statement per row)."""
    if not found:
        return []
    names = {c.code: c.name(language) for c in for_body(session, body)}
    body_name = body_place(session, body).body.name
    label = str(body_name.get(language) or body_name.get("en"))
    media = open311.media_base(_base(request))
    return [open311.request_out(g, names, media, label) for g in found]


@open311_router.get("/requests.{fmt}")
def requests_list(
    fmt: str,
    request: Request,
    session: DbSession,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    """Public grievances as service requests: the last 90 days by default, newest first, at most 1,000."""

    def run() -> Response:
        body = open311.body_of(session, jurisdiction_id)
        found = open311.find_requests(
            session, body, ids=service_request_id, service_code=service_code, start_date=start_date, end_date=end_date,
            status=status, now=utcnow(),
        )  # fmt: skip
        return _respond(fmt, "service_requests", "request", _requests_out(session, request, body, found, _language(request)))

    return _open311(fmt, run)


@open311_router.get("/requests/{rid}")
def request_one(rid: str, request: Request, session: DbSession, jurisdiction_id: str | None = None) -> Response:
    """One public grievance (``requests/<id>.json`` or ``.xml``)."""
    rid, fmt = open311.split_format(rid)

    def run() -> Response:
        body = open311.body_of(session, jurisdiction_id)
        g = session.execute(
            select(*open311.REQUEST_COLUMNS).where(
                Grievance.number == rid, Grievance.public.is_(True), Grievance.local_body_code == body
            )
        ).first()
        if g is None:
            raise open311.Open311Error(404, f"no public service request {rid!r} at {body}")
        return _respond(fmt, "service_requests", "request", _requests_out(session, request, body, [g], _language(request)))

    return _open311(fmt, run)


@open311_router.get("/tokens/{token}")
def token(token: str, session: DbSession, jurisdiction_id: str | None = None) -> Response:
    """The service request a token (given when it was posted) became."""
    token, fmt = open311.split_format(token)

    def run() -> Response:
        found = session.execute(select(Grievance.number, Grievance.public).where(Grievance.token == token)).first()
        if found is None or not found.public:
            raise open311.Open311Error(404, f"no service request for token {token!r}")
        return _respond(fmt, "service_requests", "request", [{"service_request_id": found.number, "token": token}])

    return _open311(fmt, run)


@open311_router.get("/media/{photo_id}")
def media(photo_id: str, session: DbSession) -> Response:
    """A public grievance's photo, re-encoded without EXIF metadata (no GPS, no device)."""
    row = session.execute(
        select(GrievancePhoto.public_key, GrievancePhoto.media_type)
        .join(Grievance, Grievance.id == GrievancePhoto.grievance_id)
        .where(GrievancePhoto.id == photo_id, Grievance.public.is_(True))
    ).first()
    if row is None:
        raise NotFound("no public photo with this id")
    content = runtime_of(session).files.get(row.public_key)
    return Response(content, media_type=row.media_type, headers={"Cache-Control": "public, max-age=3600"})


@open311_router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request, session: DbSession) -> Response:
    """File a grievance from a partner app (form-encoded as the spec says; ``api_key`` of a partner account
    whose role files grievances). Answers the new ``service_request_id`` and a ``token``."""
    try:
        form = await request.form(max_files=1, max_fields=200)
    except Exception:  # noqa: BLE001 - a malformed body is refused in the spec's format
        return _error(fmt, open311.Open311Error(400, "the body is not a valid form (application/x-www-form-urlencoded)"))
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    media_file = form.get("media")
    media_bytes = await media_file.read(MAX_PHOTO_BYTES + 1) if isinstance(media_file, UploadFile) else None
    attributes: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key.startswith("attribute[") and "]" in key:
            code = key[len("attribute[") : key.index("]")]
            if key.endswith("[]"):
                attributes.setdefault(code, []).append(value)
            else:
                attributes[code] = value
    return await run_in_threadpool(_post, fmt, session, fields, attributes, media_bytes)


def _post(fmt: str, session: Session, fields: dict[str, str], attributes: dict[str, Any], media_bytes: bytes | None) -> Response:
    def run() -> Response:
        key = fields.get("api_key")
        if not key:
            raise open311.Open311Error(400, "api_key is required")
        try:
            principal = identity.authenticate(session, key, kinds=("api_key",))
        except Problem as exc:
            raise open311.Open311Error(403, "api_key is not valid") from exc
        body = open311.body_of(session, fields.get("jurisdiction_id"))
        code = fields.get("service_code")
        if not code:
            raise open311.Open311Error(400, "service_code is required")
        if code not in {c.code for c in for_body(session, body)}:
            raise open311.Open311Error(404, f"service_code {code!r} is not offered at {body}")
        category = next(c for c in for_body(session, body) if c.code == code)
        values = _typed(category, attributes)
        description = fields.get("description") or ""
        if len(description) > service.MAX_DESCRIPTION:
            raise open311.Open311Error(
                400, f"description is {len(description):,} characters; at most {service.MAX_DESCRIPTION:,}"
            )
        where = service.Where(
            None,
            fields.get("address_string") or None,
            open311.number(fields.get("lat"), "lat", 90),
            open311.number(fields.get("long"), "long", 180),
        )
        photo = check_photo(media_bytes, field="media") if media_bytes else None
        now = utcnow()
        phone = fields.get("phone")
        citizen_id = service.caller(session, principal, body, phone) if phone else principal.user_id
        filing = service.Filing(body, code, description, where, values, photo)
        g = service.file(session, principal, filing, now=now, channel="open311", citizen_id=citizen_id)
        notice = "" if g.public else "this kind of grievance is private: it is not listed publicly"
        out = [{"service_request_id": g.number, "token": g.token, "service_notice": notice, "account_id": ""}]
        return _respond(fmt, "service_requests", "request", out, status.HTTP_201_CREATED)

    return _open311(fmt, run, session)


def _typed(category: Any, given: dict[str, Any]) -> dict[str, Any]:
    """Form values are text: numbers are read as numbers, a single value of a multi-value list as a list."""
    kinds = {a["code"]: a["datatype"] for a in category.attributes}
    out: dict[str, Any] = {}
    for code, value in given.items():
        kind = kinds.get(code)
        if kind == "number" and isinstance(value, str):
            out[code] = open311.number(value, f"attribute[{code}]", 10**12)
        elif kind == "multivaluelist" and isinstance(value, str):
            out[code] = [value]
        else:
            out[code] = value
    return out

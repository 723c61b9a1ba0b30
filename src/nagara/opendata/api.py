"""The CKAN Action API (v3), read-only, at ``/api/3/action/`` and ``/api/action/``, so existing
CKAN clients (``ckanapi``, portals' harvesters) read Nagara's open data unchanged; and the
downloads: each resource as CSV and JSON, each dataset's Frictionless Data Package descriptor.

Answers use CKAN's envelope: ``{"help", "success", "result"}``, errors
``{"success": false, "error": {"__type", "message"}}``. Parameters come from the query string
(GET) or a JSON or form body (POST), as CKAN accepts them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.identity.deps import DbSession
from nagara.kit import spreadsheet
from nagara.kit.db import utcnow
from nagara.kit.errors import NotFound
from nagara.opendata import datasets as ds
from nagara.tenancy.models import LocalBody, State

router = APIRouter(include_in_schema=False)

CKAN_VERSION = "2.10.4"
MAX_ROWS = 1000  # package_search rows and datastore_search limit
ACTIONS = (
    "status_show",
    "package_list",
    "package_search",
    "package_show",
    "organization_list",
    "organization_show",
    "group_list",
    "resource_show",
    "datastore_search",
    "datastore_search_sql",
)


class CkanError(Exception):
    def __init__(self, kind: str, message: str | dict[str, Any], status: int) -> None:
        super().__init__(str(message))
        self.kind, self.message, self.status = kind, message, status


def invalid(field: str, message: str) -> CkanError:
    return CkanError("Validation Error", {field: [message]}, 409)


def not_found(message: str) -> CkanError:
    return CkanError("Not Found Error", message, 404)


def _help(request: Request, action: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={action}"


def _clean_text(field: str, value: Any, *, limit: int = 500) -> str:
    if not isinstance(value, str):
        raise invalid(field, f"must be text, not {type(value).__name__}")
    if "\x00" in value or len(value) > limit or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise invalid(field, f"must be text of at most {limit} characters, without NUL or lone surrogates")
    return value


def _int(params: dict[str, Any], field: str, default: int, *, low: int = 0, high: int = MAX_ROWS) -> int:
    value = params.get(field, default)
    if isinstance(value, bool):
        raise invalid(field, f"must be a whole number from {low} to {high}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(field, f"must be a whole number from {low} to {high}") from None
    if isinstance(value, float) and (not math.isfinite(value) or value != number):
        raise invalid(field, f"must be a whole number from {low} to {high}")
    if number < low or number > 2**62:
        raise invalid(field, f"must be a whole number from {low} to {high}")
    return min(number, high)


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "")
        body = await request.body()
        if body and kind.startswith("application/json"):
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise invalid("body", "is not JSON") from None
            if not isinstance(data, dict):
                raise invalid("body", "must be a JSON object of the action's parameters")
            params.update(data)
        elif body:
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _today(session: Session, state_code: str) -> date:
    state = session.get(State, state_code)
    return utcnow().astimezone(ZoneInfo(state.timezone if state else "Asia/Kolkata")).date()


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def organization(session: Session, name: str) -> dict[str, Any] | None:
    state = session.get(State, name)
    if state is not None:
        return {
            "id": state.code,
            "name": state.code,
            "title": state.name.get("en", state.code),
            "type": "organization",
            "is_organization": True,
            "description": f"The state of {state.name.get('en', state.code)}",
            "state": "active",
        }
    body = session.get(LocalBody, name)
    if body is not None:
        return {
            "id": body.code,
            "name": body.code,
            "title": body.name.get("en", body.code),
            "type": "organization",
            "is_organization": True,
            "description": f"A local body ({body.type}) of {body.state_code}, district {body.district_code}",
            "state": "active",
        }
    return None


def resource_dict(request: Request, d: ds.Dataset, res: ds.Resource, position: int) -> dict[str, Any]:
    return {
        "id": res.id,
        "package_id": d.name,
        "name": res.name,
        "description": res.description,
        "format": "CSV",
        "mimetype": "text/csv",
        "url": f"{_base(request)}/opendata/{d.name}/{res.id}.csv",
        "json_url": f"{_base(request)}/opendata/{d.name}/{res.id}.json",
        "datastore_active": True,
        "position": position,
        "state": "active",
        "url_type": None,
    }


def package_dict(request: Request, session: Session, d: ds.Dataset, refreshed: str) -> dict[str, Any]:
    org = organization(session, d.state_code)
    return {
        "id": d.name,
        "name": d.name,
        "title": d.title,
        "notes": d.notes,
        "type": "dataset",
        "state": "active",
        "private": False,
        "license_id": ds.LICENSE_ID,
        "license_title": ds.LICENSE_TITLE,
        "license_url": ds.LICENSE_URL,
        "owner_org": d.state_code,
        "organization": org,
        "metadata_modified": refreshed,
        "metadata_created": refreshed,
        "num_resources": len(d.resources),
        "num_tags": len(d.tags),
        "tags": [{"name": t, "display_name": t} for t in d.tags],
        "groups": [{"name": g, "title": ds.GROUPS[g]} for g in d.groups],
        "resources": [resource_dict(request, d, res, i) for i, res in enumerate(d.resources)],
        "extras": [
            {"key": "refreshed", "value": refreshed},
            {"key": "data_package", "value": f"{_base(request)}/opendata/{d.name}/datapackage.json"},
            {"key": "dcat", "value": f"{_base(request)}/opendata/{d.name}.jsonld"},
        ],
    }


def refreshed_at() -> str:
    """The data are read from the rollups when asked: as fresh as the fold (every few seconds)."""
    return utcnow().replace(microsecond=0).isoformat().replace("+00:00", "")


FQ_TERM = re.compile(r'(\w+):("([^"]*)"|\S+)')


def _search(request: Request, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    q = _clean_text("q", params.get("q", "") or "")
    fq = _clean_text("fq", params.get("fq", "") or "")
    rows = _int(params, "rows", 10)
    start = _int(params, "start", 0, high=2**62)
    sort = _clean_text("sort", params.get("sort", "") or "score desc, metadata_modified desc")
    found = ds.datasets(session)
    refreshed = refreshed_at()
    packages = [package_dict(request, session, d, refreshed) for d in found]
    if q and q not in ("*:*", "*"):
        words = [w.casefold() for w in re.split(r"\s+", q) if w]
        packages = [
            p
            for p in packages
            if all(
                w in f"{p['name']} {p['title']} {p['notes']} {' '.join(t['name'] for t in p['tags'])}".casefold() for w in words
            )
        ]
    for match in FQ_TERM.finditer(fq):
        key, value = match.group(1), (match.group(3) if match.group(3) is not None else match.group(2))
        if key in ("organization", "owner_org"):
            packages = [p for p in packages if p["owner_org"] == value]
        elif key == "tags":
            packages = [p for p in packages if value in {t["name"] for t in p["tags"]}]
        elif key == "groups":
            packages = [p for p in packages if value in {g["name"] for g in p["groups"]}]
        elif key in ("name", "id"):
            packages = [p for p in packages if p["name"] == value]
        elif key == "res_format":
            packages = [p for p in packages if any(r["format"] == value for r in p["resources"])]
        elif key == "license_id":
            packages = [p for p in packages if p["license_id"] == value]
        else:
            raise invalid("fq", f"cannot filter on {key!r}: use organization, tags, groups, name, res_format or license_id")
    for part in reversed([s.strip() for s in sort.split(",") if s.strip()]):
        field, _, direction = part.partition(" ")
        if field not in ("score", "name", "title", "metadata_modified"):
            raise invalid("sort", f"cannot sort on {field!r}: use name, title, metadata_modified or score, then asc or desc")
        if field != "score":
            packages.sort(key=lambda p: p[field], reverse=direction.strip().lower() == "desc")
    facets_asked = params.get("facet.field", "[]")
    try:
        facet_fields = json.loads(facets_asked) if isinstance(facets_asked, str) else facets_asked
    except ValueError:
        raise invalid("facet.field", 'must be a JSON list of field names, such as ["organization", "tags"]') from None
    if not isinstance(facet_fields, list) or not all(isinstance(f, str) for f in facet_fields):
        raise invalid("facet.field", 'must be a JSON list of field names, such as ["organization", "tags"]')
    facets: dict[str, Any] = {}
    for name in facet_fields:
        counts: dict[str, int] = {}
        for p in packages:
            values = {
                "organization": [p["owner_org"]],
                "tags": [t["name"] for t in p["tags"]],
                "groups": [g["name"] for g in p["groups"]],
                "res_format": sorted({r["format"] for r in p["resources"]}),
                "license_id": [p["license_id"]],
            }.get(name)
            if values is None:
                raise invalid("facet.field", f"no facet {name!r}: use organization, tags, groups, res_format or license_id")
            for v in values:
                counts[v] = counts.get(v, 0) + 1
        facets[name] = {"title": name, "items": [{"name": k, "display_name": k, "count": c} for k, c in sorted(counts.items())]}
    return {
        "count": len(packages),
        "results": packages[start : start + rows],
        "sort": sort,
        "facets": {k: {i["name"]: i["count"] for i in v["items"]} for k, v in facets.items()},
        "search_facets": facets,
    }


def _datastore_search(session: Session, params: dict[str, Any]) -> dict[str, Any]:
    resource_id = _clean_text("resource_id", params.get("resource_id", params.get("id", "")) or "")
    found = ds.find_resource(session, resource_id)
    if found is None:
        raise not_found(f'Resource "{resource_id[:100]}" was not found.')
    dataset, resource = found
    names = [f.id for f in resource.fields]
    filters = params.get("filters") or {}
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except ValueError:
            raise invalid("filters", 'must be a JSON object, such as {"service": "birth-registration"}') from None
    if not isinstance(filters, dict):
        raise invalid("filters", 'must be a JSON object, such as {"service": "birth-registration"}')
    for key, value in filters.items():
        if key not in names:
            raise invalid("filters", f"field {key[:60]!r} not in this resource: {', '.join(names)}")
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                raise invalid("filters", f"{key}: give text or a whole number (or a list of them)")
            _clean_text("filters", str(v), limit=200)
            if key == "date":
                try:
                    date.fromisoformat(str(v))
                except ValueError:
                    raise invalid("filters", f"date {str(v)[:20]!r} is not a date: write it as YYYY-MM-DD") from None
    fields_asked = params.get("fields")
    chosen = names
    if fields_asked:
        wanted = fields_asked if isinstance(fields_asked, list) else str(fields_asked).split(",")
        chosen = [str(f).strip() for f in wanted]
        unknown = [f for f in chosen if f not in names]
        if unknown:
            raise invalid("fields", f"not in this resource: {', '.join(u[:60] for u in unknown)}; fields: {', '.join(names)}")
    sort: list[tuple[str, bool]] = []
    for part in _clean_text("sort", params.get("sort", "") or "").split(","):
        if not part.strip():
            continue
        field, _, direction = part.strip().strip('"').partition(" ")
        if field.strip('"') not in names or direction.strip().lower() not in ("", "asc", "desc"):
            raise invalid("sort", f"{part.strip()[:60]!r}: write a field of this resource, then asc or desc")
        sort.append((field.strip('"'), direction.strip().lower() == "desc"))
    q = params.get("q")
    query = ds.Query(
        filters=filters,
        q=_clean_text("q", q, limit=200) if q else None,
        sort=sort,
        limit=_int(params, "limit", 100),
        offset=_int(params, "offset", 0, high=2**62),
    )
    rows, total = ds.rows(session, dataset, resource, query, _today(session, dataset.state_code))
    include_total = str(params.get("include_total", "true")).lower() not in ("false", "0")
    result: dict[str, Any] = {
        "resource_id": resource.id,
        "fields": [{"id": f.id, "type": f.type, "info": {"notes": f.description}} for f in resource.fields if f.id in chosen],
        "records": [{k: row.get(k) for k in chosen} for row in rows],
        "limit": query.limit,
        "offset": query.offset,
        "_links": {"start": f"/api/3/action/datastore_search?resource_id={resource.id}"},
    }
    if filters:
        result["filters"] = filters
    if query.q:
        result["q"] = query.q
    if include_total:
        result["total"] = total
        result["total_was_estimated"] = False
    if query.offset + query.limit < total:
        result["_links"]["next"] = (
            f"/api/3/action/datastore_search?resource_id={resource.id}&offset={query.offset + query.limit}&limit={query.limit}"
        )
    return result


def _act(request: Request, session: Session, action: str, params: dict[str, Any]) -> Any:
    if action == "status_show":
        return {
            "ckan_version": CKAN_VERSION,
            "site_title": "Nagara open data",
            "site_description": "Service levels, services and the public ledger of the local bodies on this node.",
            "site_url": _base(request),
            "locale_default": "en",
            "extensions": ["datastore", "dcat"],
        }
    if action == "package_list":
        names = [d.name for d in ds.datasets(session)]
        offset = _int(params, "offset", 0, high=2**62)
        limit = _int(params, "limit", len(names) or 1, low=1, high=MAX_ROWS)
        return names[offset : offset + limit]
    if action == "package_search":
        return _search(request, session, params)
    if action == "package_show":
        name = _clean_text("id", params.get("id", params.get("name", "")) or "", limit=200)
        d = ds.find_dataset(session, name)
        if d is None:
            raise not_found(f'Dataset "{name[:100]}" was not found.')
        return package_dict(request, session, d, refreshed_at())
    if action == "organization_list":
        codes = [s.code for s in session.scalars(select(State).order_by(State.code))]
        codes += [b.code for b in ds.local_bodies(session)]
        if str(params.get("all_fields", "false")).lower() in ("true", "1"):
            return [organization(session, c) for c in codes]
        return codes
    if action == "organization_show":
        name = _clean_text("id", params.get("id", "") or "", limit=200)
        org = organization(session, name)
        if org is None:
            raise not_found(f'Organization "{name[:100]}" was not found.')
        owned = [d for d in ds.datasets(session) if d.state_code == name]
        return {**org, "package_count": len(owned), "packages": [{"name": d.name, "title": d.title} for d in owned]}
    if action == "group_list":
        if str(params.get("all_fields", "false")).lower() in ("true", "1"):
            return [{"name": k, "title": v, "type": "group"} for k, v in ds.GROUPS.items()]
        return list(ds.GROUPS)
    if action == "resource_show":
        resource_id = _clean_text("id", params.get("id", "") or "", limit=200)
        found = ds.find_resource(session, resource_id)
        if found is None:
            raise not_found(f'Resource "{resource_id[:100]}" was not found.')
        d, res = found
        return resource_dict(request, d, res, d.resources.index(res))
    if action == "datastore_search":
        return _datastore_search(session, params)
    if action == "datastore_search_sql":
        raise CkanError(
            "Authorization Error",
            "datastore_search_sql is not offered here: use datastore_search with filters, q, sort, limit and offset",
            403,
        )
    raise CkanError("Not Found Error", f"Action name not known: {action[:60]}; actions: {', '.join(ACTIONS)}", 400)


async def _action(request: Request, session: Session, action: str) -> Response:
    try:
        params = await _params(request)
        result = _act(request, session, action, params)
    except CkanError as exc:
        error = (
            {"__type": exc.kind, "message": exc.message} if isinstance(exc.message, str) else {"__type": exc.kind, **exc.message}
        )
        return JSONResponse({"help": _help(request, action), "success": False, "error": error}, status_code=exc.status)
    return JSONResponse({"help": _help(request, action), "success": True, "result": result})


@router.api_route("/api/3/action/{action}", methods=["GET", "POST"])
async def action_v3(request: Request, session: DbSession, action: str) -> Response:
    return await _action(request, session, action)


@router.api_route("/api/action/{action}", methods=["GET", "POST"])
async def action_unversioned(request: Request, session: DbSession, action: str) -> Response:
    return await _action(request, session, action)


# Downloads


def _dataset_resource(session: Session, name: str, resource_id: str) -> tuple[ds.Dataset, ds.Resource]:
    found = ds.find_resource(session, resource_id)
    if found is None or found[0].name != name:
        raise NotFound(f"no resource {resource_id[:100]!r} in dataset {name[:100]!r}")
    return found


@router.get("/opendata/{name}/datapackage.json")
def datapackage(request: Request, session: DbSession, name: str) -> Response:
    d = ds.find_dataset(session, name)
    if d is None:
        raise NotFound(f"no dataset {name[:100]!r}")
    return JSONResponse(data_package(request, d))


@router.get("/opendata/{name}/{resource_id}.csv")
def resource_csv(session: DbSession, name: str, resource_id: str) -> Response:
    d, res = _dataset_resource(session, name, resource_id)
    today = _today(session, d.state_code)
    rows = ([row.get(f.id) for f in res.fields] for row in ds.all_rows(session, d, res, today))
    return spreadsheet.response(f"{res.id}.csv", [f.id for f in res.fields], rows)


@router.get("/opendata/{name}/{resource_id}.json")
def resource_json(session: DbSession, name: str, resource_id: str) -> Response:
    d, res = _dataset_resource(session, name, resource_id)
    today = _today(session, d.state_code)

    def chunks() -> Iterator[bytes]:
        yield b'{"fields": ' + json.dumps([{"id": f.id, "type": f.type} for f in res.fields]).encode() + b', "records": ['
        for i, row in enumerate(ds.all_rows(session, d, res, today)):
            yield (b"," if i else b"") + json.dumps(row, ensure_ascii=False).encode()
        yield b"]}"

    return StreamingResponse(chunks(), media_type="application/json")


def data_package(request: Request, d: ds.Dataset) -> dict[str, Any]:
    """The dataset's Frictionless Data Package descriptor (v1), its CSV files with their Table Schemas."""
    return {
        "profile": "tabular-data-package",
        "name": d.name,
        "title": d.title,
        "description": d.notes,
        "licenses": [{"name": ds.LICENSE_ID, "title": ds.LICENSE_TITLE, "path": ds.LICENSE_URL}],
        "keywords": list(d.tags),
        "created": refreshed_at() + "Z",
        "resources": [
            {
                "profile": "tabular-data-resource",
                "name": res.id,
                "title": res.name,
                "description": res.description,
                "path": f"{_base(request)}/opendata/{d.name}/{res.id}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig",
                "schema": {
                    "fields": [{"name": f.id, "type": f.frictionless_type, "description": f.description} for f in res.fields],
                    "missingValues": ["", ds.SMALL],
                },
            }
            for res in d.resources
        ],
    }

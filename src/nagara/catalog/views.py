"""The portal's home (choose a local body, the service catalogue with search and categories)
and each service's page (what you need, fee, time limit, who decides)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from nagara.catalog import service as catalog
from nagara.catalog.definitions import Service
from nagara.catalog.fees import conditions_words, fee_day
from nagara.catalog.rules import assess_fees, total
from nagara.identity.deps import DbSession, PagePrincipal, get_runtime
from nagara.kit.db import utcnow
from nagara.kit.errors import NotFound
from nagara.tenancy.context import LocalBodyInfo, body_place, place
from nagara.tenancy.models import District, LocalBody, Role, State
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.templating import localised, render

router = APIRouter(include_in_schema=False)

BODY_COOKIE = "nagara_body"
CATEGORY_NAMES = {
    "certificates": N_("Certificates"),
    "civil-registration": N_("Births, deaths and marriages"),
    "building": N_("Building"),
    "licences": N_("Trade licences"),
    "property-tax": N_("Property tax"),
    "welfare": N_("Welfare"),
    "grievance": N_("Grievances"),
    "other": N_("Other services"),
}


def category_name(code: str) -> str:
    return _(CATEGORY_NAMES[code]) if code in CATEGORY_NAMES else code.replace("-", " ").capitalize()


def chosen_body(request: Request, session: DbSession, explicit: str | None = None) -> LocalBodyInfo | None:
    code = explicit or request.cookies.get(BODY_COOKIE)
    if not code:
        return None
    try:
        return body_place(session, code).body
    except NotFound:
        return None


def _matches(definition: dict[str, Any], words: list[str]) -> bool:
    """Every word appears in the service's code, name or description, in any language."""
    texts = [definition["code"], *definition["name"].values(), *definition.get("description", {}).values()]
    texts += [category_name(definition.get("category", ""))]
    haystack = " ".join(texts).casefold()
    return all(word in haystack for word in words)


def _bodies_by_district(session: DbSession) -> list[tuple[State, list[tuple[District, list[LocalBody]]]]]:
    states = list(session.scalars(select(State).order_by(State.code)))
    districts = list(session.scalars(select(District).order_by(District.code)))
    bodies = list(session.scalars(select(LocalBody).order_by(LocalBody.code)))
    out = []
    for state in states:
        groups = []
        for district in (d for d in districts if d.state_code == state.code):
            here = sorted((b for b in bodies if b.district_code == district.code), key=lambda b: localised(b.name))
            if here:
                groups.append((district, here))
        out.append((state, groups))
    return out


@router.get("/")
def home(
    request: Request,
    session: DbSession,
    principal: PagePrincipal,
    body: str | None = None,
    q: str = "",
    category: str = "",
) -> Response:
    """Choose a local body once (kept in a cookie), then find a service by words in any language."""
    local_body = chosen_body(request, session, body)
    if body and local_body is None:
        raise NotFound(f"no local body {body!r}")
    context: dict[str, Any] = {"page_title": "", "body": local_body, "q": q, "category": category}
    if local_body is None:
        context["choices"] = _bodies_by_district(session)
        return render(request, "catalog/choose_body.html", context)
    services = catalog.list_services(session, local_body.code)
    categories = sorted({s.definition.get("category", "") for s in services}, key=category_name)
    words = [w for w in q.casefold().split() if w]
    shown = [
        s
        for s in services
        if (not category or s.definition.get("category") == category) and (not words or _matches(s.definition, words))
    ]
    shown.sort(key=lambda s: localised(s.definition["name"]))
    context.update(
        services=shown,
        total=len(services),
        categories=[(c, category_name(c)) for c in categories],
        category_name=category_name,
    )
    response = render(request, "catalog/home.html", context)
    if body:
        settings = get_runtime(request).settings
        response.set_cookie(BODY_COOKIE, local_body.code, max_age=365 * 24 * 3600, secure=settings.cookie_secure, samesite="lax")
    return response


def role_names(session: DbSession, state_code: str) -> dict[str, dict[str, str]]:
    return {r.code: r.name for r in session.scalars(select(Role).where(Role.state_code == state_code))}


def service_facts(session: DbSession, service: Service) -> dict[str, Any]:
    """What a citizen needs to know before applying, read from the definition."""
    d = service.definition
    wf = d["workflow"]
    fees = d.get("fees", {})
    fixed = [i for i in fees.get("items", []) if i.get("kind") == "fixed"]
    today = fee_day(session, service.state_code, utcnow())
    base = total(assess_fees({"items": fixed}, {}, today)) if fixed else 0
    return {
        "fee_items": fees.get("items", []),
        # when each item is charged, in words (None: on every application)
        "fee_when": {i["code"]: conditions_words(d, i.get("when")) for i in fees.get("items", [])},
        "fee_from": base,
        "exemptions": fees.get("exemptions", []),
        "sla_days": wf["sla_days"],
        "decides": role_names(session, service.state_code).get(wf["designated_officer"], {"en": wf["designated_officer"]}),
        "documents": d.get("documents", []),
        "appeals": wf.get("appeals", {}),
    }


@router.get("/services/{tenant}/{code}")
def service_page(request: Request, tenant: str, code: str, session: DbSession, principal: PagePrincipal) -> Response:
    service = catalog.get_service(session, tenant, code)
    body = place(session, tenant).body
    context = {
        "page_title": localised(service.definition["name"]),
        "service": service,
        "d": service.definition,
        "body": body,
        "tenant": tenant,
        "facts": service_facts(session, service),
        "category_name": category_name,
        "roles": role_names(session, service.state_code),
        "q": "",
    }
    return render(request, "catalog/service.html", context)


@router.get("/choose-body")
def choose_again(request: Request, session: DbSession, principal: PagePrincipal, q: Annotated[str, Query()] = "") -> Response:
    context = {"page_title": _("Choose your local body"), "body": None, "choices": _bodies_by_district(session), "q": q}
    return render(request, "catalog/choose_body.html", context)

"""Administration pages of the exchange: the members, and a page per member with its keys, traffic and refusals.

Reads go through ``exchange.service.list_members`` / ``member_traffic`` (the functions behind
``nagara exchange list`` and ``GET /api/v1/exchange/members``). Refusals keep nothing in the
database (a refused request is not evidence of an exchange), so they are counted from this
process's Prometheus counter ``nagara_exchange_requests_total``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY

from nagara.exchange import service
from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.errors import Forbidden
from nagara.officer.common import officer_or_redirect, page
from nagara.web.i18n import gettext as _

router = APIRouter(include_in_schema=False)


def _refusals(identifier: str) -> list[tuple[str, str, int]]:
    """(service, problem, count) of this member's refused requests counted by this process."""
    out = []
    for metric in REGISTRY.collect():
        if metric.name != "nagara_exchange_requests":
            continue
        for sample in metric.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels.get("member") == identifier and labels.get("outcome") != "ok":
                out.append((labels["service"], labels["outcome"], int(sample.value)))
    return sorted(out)


@router.get("/officer/admin/exchange")
def members(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    if not officer.has(service.MANAGE):
        raise Forbidden("the exchange's members are managed by the state administrator")
    rows = service.list_members(session, officer)
    return page(
        request, session, officer, "officer/exchange_members.html", {"page_title": _("Exchange members"), "members": rows}
    )


@router.get("/officer/admin/exchange/{instance}/{klass}/{member}/{subsystem}")
def member_page(
    request: Request, instance: str, klass: str, member: str, subsystem: str, session: DbSession, principal: PagePrincipal
) -> Response:
    officer = officer_or_redirect(request, principal)
    if isinstance(officer, Response):
        return officer
    row, traffic, latest = service.member_traffic(session, officer, f"{instance}/{klass}/{member}/{subsystem}")
    context = {
        "page_title": row.name,
        "member": row,
        "keys": service.member_keys(session, row),
        "traffic": traffic,
        "latest": latest,
        "refusals": _refusals(row.identifier),
    }
    return page(request, session, officer, "officer/exchange_member.html", context)

"""The data principal's pages: who read my data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.errors import NotAuthenticated
from nagara.privacy import service
from nagara.tenancy.context import zone_of
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)

RECORD_TYPES = {
    "application": N_("Your application"),
    "document": N_("A document of your application"),
}


@router.get("/my/data/access")
def access_page(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to see who read your data")
    seen = service.access_log(session, principal)
    context = {
        "page_title": _("Who looked at my data"),
        "seen": seen,
        "record_types": {code: _(text) for code, text in RECORD_TYPES.items()},
        "timezone": zone_of(session, principal.state_code).key,
    }
    return render(request, "privacy/access.html", context)

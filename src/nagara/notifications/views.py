"""The portal's messages page, for citizens and officers alike: newest first, unread marked and counted."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.errors import NotAuthenticated
from nagara.notifications import service
from nagara.web.i18n import _
from nagara.web.pages import see_other
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/notifications")
def messages(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to read your messages")
    box = service.inbox(session, principal, limit=100)
    context = {"page_title": _("Messages"), "items": box.items, "unread": box.unread, "total": box.total}
    return render(request, "notifications/list.html", context)


@router.post("/notifications/read")
def read_all(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to read your messages")
    service.mark_read(session, principal, None)
    return see_other("/notifications")

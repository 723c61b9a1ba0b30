"""The portal's messages page, for citizens and officers alike: newest first, unread marked and counted;
and each person's choice of channels (``/my/notifications``: the order is the fallback's, the portal always
applies), e-mail address and opt-out of what the law does not require, beside the state's quiet hours."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from nagara.identity.deps import DbSession, PagePrincipal
from nagara.kit.access import Principal
from nagara.kit.errors import Conflict, Invalid, NotAuthenticated, NotFound
from nagara.notifications import service
from nagara.runtime import runtime_of
from nagara.web.i18n import _
from nagara.web.pages import attempt, field_errors, form_text, see_other
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


def _preferences_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    chosen: list[str] | None = None,
    email: str | None = None,
    opt_out: bool | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    pref, user = service.get_preferences(session, principal)
    default = service.CITIZEN_DEFAULT if user.kind == "citizen" else service.OFFICER_DEFAULT
    quiet = None
    if principal.state_code:
        try:
            quiet = service.document(session, principal.state_code)["quiet_hours"]
        except NotFound:
            quiet = None
    context = {
        "page_title": _("How we tell you"),
        "chosen": chosen if chosen is not None else list(pref.channels if pref else default),
        "email": email if email is not None else service.email_of(session, pref) or "",
        "opt_out": opt_out if opt_out is not None else bool(pref and pref.opt_out),
        "whatsapp": runtime_of(session).whatsapp is not None,
        "language": user.language,
        "quiet": quiet,
        "errors": errors or {},
        "notice": _("Saved.") if saved else "",
    }
    return render(request, "notifications/preferences.html", context, status_code=status_code)


@router.get("/my/notifications")
def preferences(request: Request, session: DbSession, principal: PagePrincipal, saved: int = 0) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to choose how you are told")
    return _preferences_page(request, session, principal, saved=bool(saved))


@router.post("/my/notifications")
async def save_preferences(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to choose how you are told")
    form = await request.form()
    chosen: list[str] = [c for c in ("sms", "whatsapp", "email") if c in form.getlist("channel")]
    email = form_text(form, "email") or None
    opt_out = form.get("opt_out") == "1"
    try:
        with attempt(session):
            service.set_preferences(session, principal, channels=[*chosen, "portal"], email=email, opt_out=opt_out)
    except (Invalid, Conflict) as exc:
        errors = field_errors(exc) if isinstance(exc, Invalid) else {"channel": _("WhatsApp is not offered here.")}
        if "email" in errors:
            errors["email"] = _("Give an e-mail address such as name@example.in to receive e-mail.")
        return _preferences_page(
            request, session, principal, chosen=chosen, email=email, opt_out=opt_out, errors=errors, status_code=422
        )
    return see_other("/my/notifications?saved=1")

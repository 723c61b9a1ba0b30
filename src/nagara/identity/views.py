"""Sign-in pages: citizens by a one-time code to their mobile, officers by password and TOTP.

They call the same service functions as the API (``identity.service``) and set the same
web session cookie.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from nagara.identity import service
from nagara.identity.deps import DbSession, PagePrincipal, get_runtime, set_session_cookie
from nagara.kit.errors import Invalid, NotAuthenticated, TooManyRequests
from nagara.tenancy.models import State
from nagara.web import csrf
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.pages import attempt, field_errors, form_text, safe_next, see_other
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)

# The sign-in SMS (service.SIGN_IN_SMS), translated in the catalogs; every translation starts with the code.
SIGN_IN_SMS = N_("%(code)s is your Nagara sign-in code. It expires in %(minutes)s minutes. Do not share it.")


def sign_in_sms() -> str:
    """The sign-in SMS in the request's language (the page's, or the API caller's Accept-Language)."""
    return _(SIGN_IN_SMS)


BODY_COOKIE = "nagara_body"  # the local body the citizen chose on the portal, such as kl.tvm-corp


def _states(session: DbSession) -> list[State]:
    return list(session.scalars(select(State).order_by(State.code)))


def _default_state(request: Request, states: list[State]) -> str:
    chosen = request.cookies.get(BODY_COOKIE, "").split(".", 1)[0]
    codes = [s.code for s in states]
    return chosen if chosen in codes else (codes[0] if codes else "")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _mobile_page(request: Request, session: DbSession, *, next_: str, values: dict[str, str], errors: dict[str, str]) -> Response:
    states = _states(session)
    values = {"state": _default_state(request, states), **values}
    context = {"page_title": _("Sign in"), "states": states, "next": next_, "values": values, "errors": errors}
    return render(request, "identity/sign_in.html", context, status_code=422 if errors else 200)


@router.get("/sign-in")
def sign_in(request: Request, session: DbSession, principal: PagePrincipal, next: str = "/") -> Response:  # noqa: A002
    if principal is not None:
        return see_other(safe_next(next))
    return _mobile_page(request, session, next_=safe_next(next), values={}, errors={})


@router.post("/sign-in")
async def send_code(request: Request, session: DbSession) -> Response:
    form = await request.form()
    csrf.check_anonymous(request, form.get(csrf.FIELD))
    next_ = safe_next(form_text(form, "next"))
    values = {"state": form_text(form, "state"), "mobile": form_text(form, "mobile")}
    try:
        with attempt(session):
            issued = service.request_otp(
                session, state_code=values["state"], mobile=values["mobile"], ip=_client_ip(request), message=sign_in_sms()
            )
    except Invalid as exc:
        errors = field_errors(exc)
        if "mobile" in errors:
            errors["mobile"] = _("Enter a 10-digit Indian mobile number starting with 6, 7, 8 or 9.")
        if "state" in errors:
            errors["state"] = _("Choose your state.")
        return _mobile_page(request, session, next_=next_, values=values, errors=errors)
    except TooManyRequests:
        errors = {"mobile": _("Too many codes were asked for. Try again in an hour.")}
        return _mobile_page(request, session, next_=next_, values=values, errors=errors)
    context = {
        "page_title": _("Enter the code"),
        "challenge_id": issued.challenge_id,
        "minutes": issued.expires_in // 60,
        "values": values,
        "next": next_,
        "errors": {},
    }
    return render(request, "identity/sign_in_code.html", context)


@router.post("/sign-in/code")
async def check_code(request: Request, session: DbSession) -> Response:
    form = await request.form()
    csrf.check_anonymous(request, form.get(csrf.FIELD))
    next_ = safe_next(form_text(form, "next"))
    values = {"state": form_text(form, "state"), "mobile": form_text(form, "mobile")}
    challenge_id = form_text(form, "challenge_id")
    try:
        with attempt(session):
            user = service.verify_otp(
                session,
                state_code=values["state"],
                challenge_id=challenge_id,
                mobile=values["mobile"],
                code=form_text(form, "code"),
            )
    except (Invalid, TooManyRequests) as exc:
        wrong = isinstance(exc, Invalid) and "attempt" in field_errors(exc).get("code", "")
        message = (
            _("The code is wrong. Check the SMS and try again.")
            if wrong
            else _("This code cannot be used any more. Ask for a new code.")
        )
        context = {
            "page_title": _("Enter the code"),
            "challenge_id": challenge_id,
            "minutes": get_runtime(request).settings.otp_ttl_seconds // 60,
            "values": values,
            "next": next_,
            "errors": {"code": message},
            "ask_again": not wrong,
        }
        return render(request, "identity/sign_in_code.html", context, status_code=422)
    raw = service.issue_token(session, user, "session")
    response = see_other(next_)
    set_session_cookie(get_runtime(request), response, raw)
    return response


OFFICER_HOME = "/officer"  # the officer workbench (officer area); "/" until that page exists


def _officer_page(request: Request, *, next_: str, username: str, errors: dict[str, str]) -> Response:
    context = {"page_title": _("Officer sign-in"), "next": next_, "values": {"username": username}, "errors": errors}
    return render(request, "identity/officer_sign_in.html", context, status_code=422 if errors else 200)


@router.get("/officer/sign-in")
def officer_sign_in(request: Request, principal: PagePrincipal, next: str = "") -> Response:  # noqa: A002
    if principal is not None and principal.kind == "officer":
        return see_other(safe_next(next, OFFICER_HOME))
    return _officer_page(request, next_=safe_next(next, ""), username="", errors={})


@router.post("/officer/sign-in")
async def officer_check(request: Request, session: DbSession) -> Response:
    form = await request.form()
    csrf.check_anonymous(request, form.get(csrf.FIELD))
    next_ = safe_next(form_text(form, "next"), "")
    username = form_text(form, "username")
    try:
        with attempt(session):
            user = service.officer_login(
                session,
                username=username,
                password=str(form.get("password") or ""),
                totp_code=form_text(form, "totp"),
                ip=_client_ip(request),
            )
    except NotAuthenticated:
        errors = {"_": _("The username, password or authenticator code is wrong.")}
        return _officer_page(request, next_=next_, username=username, errors=errors)
    except TooManyRequests:
        errors = {"_": _("Too many failed sign-ins. This account is locked for a few minutes.")}
        return _officer_page(request, next_=next_, username=username, errors=errors)
    raw = service.issue_token(session, user, "session")
    response = see_other(next_ or OFFICER_HOME)
    set_session_cookie(get_runtime(request), response, raw)
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """End this browser's session (the form's CSRF token is checked by ``PagePrincipal``)."""
    runtime = get_runtime(request)
    if principal is not None:
        service.revoke_token(session, request.cookies.get(runtime.settings.session_cookie, ""))
    response = see_other("/")
    response.delete_cookie(runtime.settings.session_cookie)
    # Forget the pages the service worker kept for offline reading on this device.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@router.get("/my/profile")
def profile(request: Request, session: DbSession, principal: PagePrincipal, saved: int = 0, password: int = 0) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to see your profile")
    me = service.describe(session, service.get_user(session, principal, principal.user_id))
    notice = _("Saved.") if saved else _("Your password is changed. Your other sessions have ended.") if password else ""
    context = {"page_title": _("My profile"), "me": me, "errors": {}, "notice": notice}
    return render(request, "identity/profile.html", context)


@router.post("/my/profile")
async def save_profile(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    if principal is None:
        raise NotAuthenticated("sign in to change your profile")
    form = await request.form()
    name = form_text(form, "name") or None
    language = form_text(form, "language") or None
    try:
        with attempt(session):
            service.update_profile(session, principal, name=name, language=language)
    except Invalid as exc:
        me = service.describe(session, service.get_user(session, principal, principal.user_id))
        me.update(name=name, language=language)
        errors = field_errors(exc)
        context = {"page_title": _("My profile"), "me": me, "errors": errors, "notice": ""}
        return render(request, "identity/profile.html", context, status_code=422)
    return see_other("/my/profile?saved=1")


def _password_errors(exc: Invalid) -> dict[str, str]:
    """The service's refusal in the page's language: which field, and why."""
    errors: dict[str, str] = {}
    for error in exc.extra.get("errors") or []:
        field = str(error["loc"][-1])
        if field == "current_password":
            errors[field] = _("The current password is wrong.")
        elif error.get("type") == "too_short":
            errors["password"] = _("The new password must be at least 12 characters.")
        elif error.get("type") == "weak_password":
            errors["password"] = _(
                "This password is too easy to guess: it is a common one, or built from your username, name or state. "
                "Use a longer phrase of uncommon words."
            )
        else:
            errors["password"] = _("Choose a new password that differs from the current one.")
    return errors


@router.post("/my/password")
async def change_password(request: Request, session: DbSession, principal: PagePrincipal) -> Response:
    """An officer changes their password (the current one first); their other sessions end."""
    if principal is None:
        raise NotAuthenticated("sign in to change your password")
    form = await request.form()
    try:
        with attempt(session):
            service.change_password(
                session,
                principal,
                current=str(form.get("current_password") or ""),
                new=str(form.get("password") or ""),
                keep_token=request.cookies.get(get_runtime(request).settings.session_cookie),
                ip=_client_ip(request),
            )
    except (Invalid, TooManyRequests) as exc:
        errors = (
            _password_errors(exc)
            if isinstance(exc, Invalid)
            else {"current_password": _("Too many wrong passwords. Try again in a few minutes.")}
        )
        me = service.describe(session, service.get_user(session, principal, principal.user_id))
        context = {"page_title": _("My profile"), "me": me, "errors": errors, "notice": ""}
        return render(request, "identity/profile.html", context, status_code=422)
    return see_other("/my/profile?password=1")

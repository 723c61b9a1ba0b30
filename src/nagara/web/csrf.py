"""CSRF tokens for forms that work without JavaScript.

A signed-in page's forms carry the session's token (``identity.deps.csrf_token_for``) in a
hidden ``csrf_token`` field; ``identity.deps`` accepts that field like the
``X-CSRF-Token`` header. Forms shown before sign-in (the sign-in forms themselves) carry a
token bound to a random ``nagara_form`` cookie instead (double submit), checked by
:func:`check_anonymous`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from nagara.identity.deps import csrf_token_for, get_runtime
from nagara.kit.errors import Forbidden

FIELD = "csrf_token"
FORM_COOKIE = "nagara_form"


def _anonymous_token(request: Request, seed: str) -> str:
    secret = get_runtime(request).secret.encode()
    return hmac.new(secret, b"form:" + hashlib.sha256(seed.encode()).digest(), "sha256").hexdigest()


def _form_seed(request: Request) -> str:
    seed = request.cookies.get(FORM_COOKIE) or getattr(request.state, "new_form_seed", None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.new_form_seed = seed
    return str(seed)


def token_for(request: Request) -> str:
    """The token a form on this page must send back."""
    raw = request.cookies.get(get_runtime(request).settings.session_cookie)
    if raw:
        return csrf_token_for(get_runtime(request), raw)
    return _anonymous_token(request, _form_seed(request))


def remember(request: Request, response: Response) -> None:
    """Set the ``nagara_form`` cookie if this page created its seed."""
    seed = getattr(request.state, "new_form_seed", None)
    if seed:
        settings = get_runtime(request).settings
        response.set_cookie(FORM_COOKIE, seed, httponly=True, secure=settings.cookie_secure, samesite="lax")


def check_anonymous(request: Request, sent: object) -> None:
    """Refuse a form posted before sign-in unless it carries the token its page was given.

    A page is given the token of the browser's session cookie when it has one, else that of the
    ``nagara_form`` cookie (:func:`token_for`); either is accepted here. The session cookie may be
    stale (expired, revoked, another person's kind): these forms do not need it to be valid, only
    the browser to hold it, so signing in again works whatever cookie is left over.
    """
    if not isinstance(sent, str) or not sent:
        raise Forbidden(EXPIRED)
    raw = request.cookies.get(get_runtime(request).settings.session_cookie)
    if raw and hmac.compare_digest(sent, csrf_token_for(get_runtime(request), raw)):
        return
    seed = request.cookies.get(FORM_COOKIE)
    if seed and hmac.compare_digest(sent, _anonymous_token(request, seed)):
        return
    raise Forbidden(EXPIRED)


EXPIRED = "this form has expired or was not sent from this site; reload the page and try again"

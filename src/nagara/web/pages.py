"""What page handlers share: form reading, field errors from problems, redirects, HTML errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from nagara.kit.errors import Invalid, NotAuthenticated, Problem
from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.templating import render

log = logging.getLogger("nagara.web")

# Paths that are not pages: their errors stay problem+json.
# JSON routes outside /api/v1 too: the VC API (/credentials/...), the JSON-LD contexts and /.well-known documents.
NON_PAGE_PREFIXES = (
    "/api/",
    "/ledger",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/credentials/",
    "/contexts/",
    "/.well-known/",
    "/exchange/",  # members' signed requests
    "/digilocker/",  # DigiLocker's issuer API
)


@contextmanager
def attempt(session: Session) -> Iterator[None]:
    """Run a service call that a page may answer with its form again.

    Inside a savepoint: when the service raises a problem the page catches, what it
    flushed is undone (unless the problem asks to keep it, like a counted wrong code),
    and the page's unit of work still commits normally.
    """
    savepoint = session.begin_nested()
    try:
        yield
    except Problem as exc:
        if exc.keep_changes:
            savepoint.commit()
        else:
            savepoint.rollback()
        raise
    except BaseException:
        savepoint.rollback()
        raise
    else:
        savepoint.commit()


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(NON_PAGE_PREFIXES)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never redirect to another host after sign-in or a language switch."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: 303, so reloading the next page does not post again."""
    return RedirectResponse(url, status_code=303)


def sign_in_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/officer/sign-in" if request.url.path.startswith("/officer") else "/sign-in"
    return RedirectResponse(f"{target}?next={quote(here, safe='')}", status_code=303)


def field_errors(problem: Invalid) -> dict[str, str]:
    """``{"field": "message"}`` from a 422's errors; nested fields joined with dots."""
    errors: dict[str, str] = {}
    for err in problem.extra.get("errors", []):
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "data")]
        errors.setdefault(".".join(loc) or "_", str(err.get("msg", "")))
    return errors


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


STATUS_TITLES = {
    400: N_("The request could not be used"),
    403: N_("You are not allowed to do this"),
    404: N_("Page not found"),
    405: N_("This page does not accept that"),
    409: N_("Someone else changed this at the same moment"),
    422: N_("Some details need correcting"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong on our side"),
    503: N_("The service is unavailable for a moment; try again shortly"),
}


def error_page(request: Request, status: int, detail: str | None = None, extra: dict[str, Any] | None = None) -> Response:
    """An error as a page in the person's language; the English detail is kept for support."""
    title = _(STATUS_TITLES.get(status, STATUS_TITLES[500]))
    context = {"page_title": title, "status": status, "detail": detail or "", **(extra or {})}
    return render(request, "web/error.html", context, status_code=status)


def problem_page(request: Request, exc: Problem) -> Response:
    if isinstance(exc, NotAuthenticated):
        return sign_in_redirect(request)
    response = error_page(request, exc.status, exc.detail)
    for key, value in exc.headers.items():
        response.headers[key] = value
    return response


# The API and signed exchanges stay uncompressed: a signature covers the Content-Digest of the bytes sent.
_UNCOMPRESSED = ("/api/", "/ledger", "/metrics", "/exchange/", "/digilocker/")


class PageCompression:
    """gzip for pages and static files; the API's responses stay as they were (measured separately)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=500, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith(_UNCOMPRESSED):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)

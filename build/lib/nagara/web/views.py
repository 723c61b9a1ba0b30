"""Pages of the foundation itself: the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from nagara.identity.deps import get_runtime
from nagara.kit.errors import NotFound
from nagara.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from nagara.web.i18n import gettext as _
from nagara.web.pages import safe_next
from nagara.web.templating import STATIC_DIR, render

router = APIRouter(include_in_schema=False)


@router.get("/language/{language}")
def switch_language(request: Request, language: str, next_: Annotated[str, Query(alias="next")] = "/") -> RedirectResponse:
    """Remember the chosen language for a year and go back to the same page."""
    if language not in LANGUAGES:
        raise NotFound(f"no interface language {language!r}; choose one of {', '.join(LANGUAGES)}")
    response = RedirectResponse(safe_next(next_), status_code=303)
    settings = get_runtime(request).settings
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, secure=settings.cookie_secure, samesite="lax", httponly=True
    )
    return response


def _static(name: str, media_type: str, headers: dict[str, str] | None = None) -> Response:
    body = (STATIC_DIR / name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache", **(headers or {})})


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: the portal installs on a phone and opens on "My applications"."""
    return _static("manifest.webmanifest", "application/manifest+json")


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from the root so that it may cover every page."""
    return _static("sw.js", "text/javascript", {"Service-Worker-Allowed": "/"})


@router.get("/offline")
def offline(request: Request) -> Response:
    """What the service worker shows for a page that was not kept for offline reading."""
    return render(request, "web/offline.html", {"page_title": _("You are offline")})

"""Pages of the foundation itself: the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from nagara.identity.deps import get_runtime
from nagara.kit.errors import NotFound
from nagara.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from nagara.web.pages import safe_next

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

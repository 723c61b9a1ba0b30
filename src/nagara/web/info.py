"""The portal's standing pages, as the Guidelines for Indian Government Websites (GIGW) ask:
help, contact, accessibility statement, privacy notice and terms of use, in every interface
language, linked from the footer of every page (``templates/web/footer_links.html``).

Their text is in the catalog area ``portal``; each template is ``templates/web/info/<page>.html``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from nagara.web.i18n import N_
from nagara.web.i18n import gettext as _
from nagara.web.templating import render

router = APIRouter(include_in_schema=False)

# Path (and template name) -> the page's title; the footer lists them in this order.
PAGES = {
    "help": N_("Help"),
    "contact": N_("Contact us"),
    "accessibility": N_("Accessibility statement"),
    "privacy": N_("Privacy notice"),
    "terms": N_("Terms of use"),
}


def _show(request: Request, name: str) -> Response:
    return render(request, f"web/info/{name}.html", {"page_title": _(PAGES[name])})


@router.get("/help")
def help_page(request: Request) -> Response:
    return _show(request, "help")


@router.get("/contact")
def contact(request: Request) -> Response:
    return _show(request, "contact")


@router.get("/accessibility")
def accessibility(request: Request) -> Response:
    return _show(request, "accessibility")


@router.get("/privacy")
def privacy(request: Request) -> Response:
    return _show(request, "privacy")


@router.get("/terms")
def terms(request: Request) -> Response:
    return _show(request, "terms")

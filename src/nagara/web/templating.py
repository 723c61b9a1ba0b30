"""The Jinja2 environment of every page, its formatting filters, and ``render``.

Templates live in ``src/nagara/templates/<domain>/``; every page extends ``base.html``.
Interface text is written in English inside ``{% trans %}`` / ``_()`` and translated
from the merged catalogs (``nagara.web.i18n``) into the request's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from nagara import __version__
from nagara.kit.access import Principal
from nagara.web import csrf
from nagara.web.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    current_language,
    direction,
    format_locale,
    gettext,
    ngettext,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
DEFAULT_TIMEZONE = "Asia/Kolkata"
# Lakh and crore grouping (1,23,45,678) in every language: CLDR gives some Indian locales
# (ml, kn) the western 123,456 pattern, which is not how amounts are written in India.
INDIAN_NUMBER = "#,##,##0.###"
INDIAN_RUPEES = "¤#,##,##0.00"
FILE_TYPES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}


def _timezone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(str(ctx.get("timezone") or DEFAULT_TIMEZONE))


def _as_local(ctx: Context, value: datetime) -> datetime:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_timezone(ctx))


NAMED_FORMS = ("short", "medium", "long", "full")
TWO_DIGIT_YEAR = re.compile(r"(?<![yY'])([yY])\1(?![yY])")


def date_pattern(form: str, locale: Locale) -> str:
    """The locale's date pattern for a named form, or ``form`` itself, always with the whole year.

    CLDR's short forms write the year in two digits (``d/M/yy``: 4/12/26), which is ambiguous
    on registers kept for a century; every date on a page shows four (4/12/2026).
    """
    pattern = str(locale.date_formats[form].pattern) if form in NAMED_FORMS else form
    return TWO_DIGIT_YEAR.sub(r"\1", pattern)


@pass_context
def format_datetime(ctx: Context, value: datetime | None, form: str = "") -> str:
    """A moment in the local body's time zone, written the locale's way: by default the date
    spelt out and the time to the minute ("4 Dec 2026, 5:00 pm"); ``form`` picks a Babel format
    (the year always in four digits)."""
    if value is None:
        return ""
    local = _as_local(ctx, value)
    locale = format_locale()
    if form in NAMED_FORMS:
        day = babel_dates.format_date(local.date(), format=date_pattern(form, locale), locale=locale)
        moment = babel_dates.format_time(local, format=form, locale=locale)
        # as Babel joins them, with the date's pattern widened to the whole year
        joined = str(locale.datetime_formats[form]).replace("'", "")
        return joined.replace("{0}", moment).replace("{1}", day)
    if form:
        return babel_dates.format_datetime(local, format=date_pattern(form, locale), locale=locale)
    day = babel_dates.format_date(local.date(), format="medium", locale=locale)
    return f"{day}, {babel_dates.format_time(local, format='short', locale=locale)}"


@pass_context
def format_date(ctx: Context, value: date | datetime | None, form: str = "medium") -> str:
    """A day the locale's way (``form``: a Babel named form or pattern), the year in four digits."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _as_local(ctx, value).date()
    locale = format_locale()
    return babel_dates.format_date(value, format=date_pattern(form, locale), locale=locale)


@pass_context
def format_time(ctx: Context, value: datetime | None, form: str = "short") -> str:
    if value is None:
        return ""
    return babel_dates.format_time(_as_local(ctx, value), format=form, locale=format_locale())


def format_number(value: int | float | Decimal | None) -> str:  # noqa: PYI041 - Decimal is not a float
    if value is None:
        return ""
    return babel_numbers.format_decimal(value, format=INDIAN_NUMBER, locale=format_locale())


def format_rupees(paise: int | None) -> str:
    """Integer paise as rupees with Indian digit grouping: 12345600 -> ₹1,23,456.00."""
    if paise is None:
        return ""
    return babel_numbers.format_currency(
        Decimal(paise) / 100, "INR", format=INDIAN_RUPEES, currency_digits=False, locale=format_locale()
    )


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    return babel_dates.format_timedelta(value, locale=format_locale(), threshold=1.5)


def localised(value: Mapping[str, str] | str | None) -> str:
    """A pack's multilingual name ``{"ml": ..., "en": ...}`` in the request's language, else English, else any."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    language = current_language()
    return value.get(language) or value.get("en") or next(iter(value.values()), "")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        datetime=format_datetime,
        date=format_date,
        time=format_time,
        number=format_number,
        rupees=format_rupees,
        duration=format_duration,
        l10n=localised,
        urlquote=lambda s: quote(str(s), safe=""),
        # a number, code or amount inside a sentence, kept in its own order on right-to-left pages
        bdi=lambda value: Markup("<bdi>{}</bdi>").format(value),
        filetype=lambda media_type: FILE_TYPES.get(str(media_type), str(media_type)),
    )
    env.globals.update(languages=LANGUAGES, language_names=LANGUAGE_NAMES, version=__version__)
    return env


def page_principal(request: Request) -> Principal | None:
    principal: Principal | None = getattr(request.state, "page_principal", None)
    return principal


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page in the request's language, with the layout's variables filled in."""
    values: dict[str, Any] = {
        "request": request,
        "lang": current_language(),
        "dir": direction(),
        "principal": page_principal(request),
        "csrf_token": csrf.token_for(request),
        "current_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "timezone": DEFAULT_TIMEZONE,
        "page_title": "",
        "htmx": False,  # pass htmx=True for pages that use hx-* attributes (16 kB compressed)
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    response.headers.setdefault("Cache-Control", "no-store" if values["principal"] else "no-cache")
    response.headers["Content-Language"] = values["lang"]
    response.headers["Vary"] = "Cookie, Accept-Language"
    csrf.remember(request, response)
    return response

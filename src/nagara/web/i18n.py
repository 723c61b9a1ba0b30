"""Interface languages: the merged gettext catalogs and the request's locale.

Catalogs are per area (``web``, ``officer``, ``payments``, ``certificates``, ``forms``, ``sms``) so that
engineers never edit each other's files: ``src/nagara/locale/<lang>/LC_MESSAGES/<area>.po``.
They are read straight from the ``.po`` files at first use (no compile step, so a fresh
clone works) and merged into one catalog per language. English is the msgid.

The locale of a request is chosen once, by :class:`LocaleMiddleware`: an explicit choice in
the ``nagara_lang`` cookie, else the browser's ``Accept-Language``, else English. It is kept
in a context variable so that templates and Python code (``gettext``) use it without
passing it around.
"""

from __future__ import annotations

import contextvars
import io
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
LANGUAGES: tuple[str, ...] = ("en", "ml", "kn", "hi", "ur")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "nagara_lang"
# Each language's name in itself, for the language switch.
LANGUAGE_NAMES = {"en": "English", "ml": "മലയാളം", "kn": "ಕನ್ನಡ", "hi": "हिन्दी", "ur": "اردو"}
# Formatting (numbers, dates, rupees) follows the Indian variant of each language.
FORMAT_LOCALES = {"en": "en_IN", "ml": "ml_IN", "kn": "kn_IN", "hi": "hi_IN", "ur": "ur_IN"}
# Languages written right to left: their pages are <html dir="rtl">, their certificates too.
RTL_LANGUAGES = frozenset({"ur"})

_current: contextvars.ContextVar[str] = contextvars.ContextVar("nagara_language", default=DEFAULT_LANGUAGE)


def catalog_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


@cache
def translations(language: str) -> NullTranslations:
    """Every area's catalog for one language, merged; English gets the identity catalog.

    Each ``.po`` is compiled in memory (Babel's ``write_mo``), so plural forms work as
    with compiled catalogs and nobody has to run a compile step.
    """
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return NullTranslations()
    merged: Translations | None = None
    for path in catalog_files(language):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language, domain=path.stem)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        one = Translations(fp=buffer, domain="messages")
        if merged is None:
            merged = one
        else:
            merged.merge(one)
    return merged or NullTranslations()


def current_language() -> str:
    return _current.get()


def direction(language: str | None = None) -> str:
    """``rtl`` for a language written right to left (Urdu), else ``ltr``: the pages' ``dir``."""
    return "rtl" if (language or current_language()) in RTL_LANGUAGES else "ltr"


def set_language(language: str) -> contextvars.Token[str]:
    return _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def gettext(message: str) -> str:
    """Translate into the request's language (Babel extracts calls of ``gettext`` and ``_``)."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction only"
    """Mark a module-level string for extraction; translate it later with ``gettext``."""
    return message


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return str(cookie)
    if accept_language:
        preferred = []
        for part in accept_language.split(","):
            tag = part.split(";", 1)[0].strip().replace("_", "-")
            if tag:
                preferred.append(tag)
                preferred.append(tag.split("-", 1)[0])
        found = negotiate_locale(preferred, list(LANGUAGES), sep="-")
        if found:
            return found
    return DEFAULT_LANGUAGE


def format_locale(language: str | None = None) -> Locale:
    return Locale.parse(FORMAT_LOCALES.get(language or current_language(), "en_IN"))


class LocaleMiddleware:
    """Chooses the request's language and keeps it in a context variable and ``scope['state']``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = _cookie_value(headers.get("cookie", ""), LANGUAGE_COOKIE)
        language = negotiate(cookies, headers.get("accept-language"))
        scope.setdefault("state", {})["language"] = language
        token = set_language(language)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def _cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _sep, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None

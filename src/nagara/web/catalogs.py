"""Extracting interface strings and keeping each area's ``.po`` files up to date.

``python -m nagara.web.catalogs update AREA PATH...`` extracts every message from the
templates and Python files under the given paths (Babel's extractors) and writes
``locale/<lang>/LC_MESSAGES/<AREA>.po`` for ml, kn, hi and ur: new messages are added with an
empty translation, translations already there are kept, messages no longer used are dropped.
``python -m nagara.web.catalogs missing`` lists every message of the whole code base that
some language lacks in the merged catalogs (what ``tests/web/test_catalogs.py`` checks).

Python files are scanned only when they import ``nagara.web.i18n`` (so ``_`` used as a
throwaway name elsewhere is never mistaken for a message).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS
from babel.messages.pofile import read_po, write_po

from nagara.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, translations

PACKAGE = Path(__file__).resolve().parents[1]
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE)
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}

Message = tuple[str | tuple[str, str], str]  # (msgid or (singular, plural), "file:line")


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".html", ".py")))
        elif path.suffix in (".html", ".py"):
            found.append(path)
    return found


def extract(paths: Iterable[Path]) -> list[Message]:
    """Every message in these templates and Python modules, with where it is used."""
    out: list[Message] = []
    for path in _files(p.resolve() for p in paths):
        if path.suffix == ".py":
            if "nagara.web.i18n" not in path.read_text(encoding="utf-8") or path.name == "i18n.py":
                continue
            method, options = "python", {}
        else:
            method, options = "jinja2", JINJA_OPTIONS
        with path.open("rb") as fh:
            for line, message, _comments, _context in _extract(method, fh, options):
                where = f"{path.relative_to(PACKAGE).as_posix()}:{line}"
                if isinstance(message, tuple):
                    singular, plural = str(message[0] or ""), str(message[1] or "")
                    if singular:
                        out.append(((singular, plural or singular), where))
                elif isinstance(message, str) and message:
                    out.append((message, where))
    return out


def _extract(method: str, fh: object, options: dict[str, str]) -> Iterable[tuple[int, object, list[str], str | None]]:
    from babel.messages.extract import extract  # noqa: PLC0415 - catalog extraction is a developer command, not part of serving

    yield from extract(method, fh, DEFAULT_KEYWORDS, options=options)  # type: ignore[arg-type]


def all_messages() -> list[Message]:
    """Every interface message of the code base: all templates, all page modules."""
    return extract([PACKAGE / "templates", PACKAGE])


def missing() -> dict[str, list[str]]:
    """``{language: [msgid, ...]}`` for every message a language's merged catalogs do not translate."""
    gaps: dict[str, list[str]] = {}
    seen: dict[str | tuple[str, str], str] = {}
    for message, where in all_messages():
        seen.setdefault(message, where)
    for language in TRANSLATED:
        t = translations.__wrapped__(language)  # read the files as they are now, not a cached copy
        catalog = getattr(t, "_catalog", {})
        lacking = []
        for message in seen:
            if isinstance(message, tuple):
                if not catalog.get((message[0], 0)):
                    lacking.append(message[0])
            elif not catalog.get(message):
                lacking.append(message)
        if lacking:
            gaps[language] = sorted(lacking)
    return gaps


def update(area: str, paths: list[Path]) -> dict[str, int]:
    """Rewrite ``<area>.po`` of each language with exactly the messages these paths use."""
    messages = extract(paths)
    counts = {}
    for language in TRANSLATED:
        target = LOCALE_DIR / language / "LC_MESSAGES" / f"{area}.po"
        old: Catalog | None = None
        if target.exists():
            with target.open("rb") as fh:
                old = read_po(fh, locale=language)
        stamp = datetime(2026, 12, 1, tzinfo=UTC)  # fixed, so regenerating changes no header line
        catalog = Catalog(
            locale=language,
            domain=area,
            project="Nagara",
            charset="utf-8",
            creation_date=stamp,
            revision_date=stamp,
            fuzzy=False,
        )
        catalog.header_comment = f"# Nagara interface text, area {area!r}, in {language}. English is the msgid."
        for message, where in messages:
            filename, _sep, line = where.rpartition(":")
            previous = old.get(message if isinstance(message, str) else message[0]) if old else None
            string: str | tuple[str, ...] = ""
            if previous is not None and previous.string:
                string = previous.string if isinstance(previous.string, str) else tuple(previous.string)
            elif isinstance(message, tuple):
                string = ("",) * catalog.num_plurals
            if isinstance(message, tuple) and isinstance(string, str):
                string = (string,) * catalog.num_plurals
            existing = catalog.get(message if isinstance(message, str) else message[0])
            if existing is not None:
                existing.locations.append((filename, int(line)))
                continue
            catalog.add(message, string, locations=[(filename, int(line))])
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            write_po(fh, catalog, width=0, sort_output=True, omit_header=False)
        counts[language] = len(catalog)
    return counts


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "update":
        counts = update(argv[1], [Path(p) for p in argv[2:]] or [PACKAGE])
        sys.stdout.write(f"{argv[1]}: {counts}\n")
        return 0
    if argv[:1] == ["missing"]:
        gaps = missing()
        for language, lacking in gaps.items():
            sys.stdout.write(f"{language}: {len(lacking)} untranslated\n")
            for msgid in lacking:
                sys.stdout.write(f"  {msgid}\n")
        return 1 if gaps else 0
    sys.stderr.write("usage: python -m nagara.web.catalogs update AREA PATH... | missing\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Every interface string (templates and page modules, all areas) is translated in ml, kn and hi."""

from __future__ import annotations

import re

from nagara.web import catalogs
from nagara.web.i18n import LANGUAGES, catalog_files, translations

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_extraction_finds_the_layout_strings():
    found = {m if isinstance(m, str) else m[0] for m, _where in catalogs.all_messages()}
    assert "Skip to main content" in found
    assert "Sign in" in found
    assert "%(num)s service" in found  # a plural from a template


def test_no_language_lacks_a_translation():
    gaps = catalogs.missing()
    report = "\n".join(f"{lang}: {len(ids)} untranslated, e.g. {ids[:5]}" for lang, ids in gaps.items())
    assert not gaps, "run `python -m nagara.web.catalogs missing` and translate:\n" + report


def test_translations_keep_their_placeholders():
    for language in LANGUAGES[1:]:
        assert catalog_files(language), f"no catalogs for {language}"
        for key, text in translations(language)._catalog.items():
            msgid = key[0] if isinstance(key, tuple) else key
            if not msgid:
                continue
            assert set(PLACEHOLDER.findall(text)) <= set(PLACEHOLDER.findall(msgid)), (language, msgid, text)

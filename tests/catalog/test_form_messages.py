"""Form validation messages come from the gettext catalogs (area ``forms``), in all four languages."""

from __future__ import annotations

import pytest

from nagara.catalog import forms
from nagara.web.i18n import LANGUAGES, translations

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "kind": {"enum": ["a", "b"]},
        "age": {"type": "integer", "maximum": 120},
    },
}


def test_every_message_is_an_english_msgid_translated_in_every_language() -> None:
    for kind, msgid in forms.MESSAGES.items():
        assert isinstance(msgid, str), kind
        for lang in LANGUAGES[1:]:
            assert translations(lang).gettext(msgid) != msgid, (kind, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_form_errors_are_in_the_language_asked_for(lang: str) -> None:
    t = translations(lang)
    errors = {e["loc"][-1]: e["msg"] for e in forms.form_errors(SCHEMA, {"kind": "c", "age": 130, "extra": 1}, lang)}
    assert errors["name"] == t.gettext("this field is required")
    assert errors["kind"] == t.gettext("choose one of: %(expected)s") % {"expected": "a, b"}
    assert errors["age"] == t.gettext("must be at most %(expected)s") % {"expected": 120}
    assert errors["extra"] == t.gettext("is not a field of this form")
    if lang != "en":
        assert "required" not in errors["name"] and "a, b" in errors["kind"] and "120" in errors["age"]

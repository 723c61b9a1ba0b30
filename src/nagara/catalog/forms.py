"""Form data checked against the service's JSON Schema, with a message per field in the user's language."""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from nagara.web.i18n import N_, translations

# One message per kind of JSON Schema error, in English; the translations are in the gettext
# catalogs (``locale/<lang>/LC_MESSAGES/forms.po``) like every other interface text.
MESSAGES: dict[str, str] = {
    "required": N_("this field is required"),
    "type": N_("expected %(expected)s"),
    "enum": N_("choose one of: %(expected)s"),
    "minLength": N_("at least %(expected)s characters"),
    "maxLength": N_("at most %(expected)s characters"),
    "minimum": N_("must be at least %(expected)s"),
    "maximum": N_("must be at most %(expected)s"),
    "format": N_("expected a valid %(expected)s"),
    "pattern": N_("not in the expected form"),
    "additionalProperties": N_("is not a field of this form"),
    "number_range": N_("must be a finite number; whole numbers between %(expected)s"),
    "string_characters": N_("contains a character that is not allowed (NUL or an unpaired surrogate)"),
    "invalid": N_("is not valid"),
}


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def _value_errors(value: Any, path: list[Any], language: str) -> list[dict[str, Any]]:
    """Values no database column can hold, whatever the schema says: NUL, lone surrogates,
    integers beyond 64 bits, infinities and NaN (JSON has none of them)."""
    if isinstance(value, bool):
        return []
    out_of_range = isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX
    if out_of_range or (isinstance(value, float) and not math.isfinite(value)):
        kind, expected = "number_range", f"{INT64_MIN} - {INT64_MAX}"
    elif isinstance(value, str) and _BAD_CHARS.search(value):
        kind, expected = "string_characters", ""
    elif isinstance(value, dict):
        return [e for k, v in value.items() for e in _value_errors(v, [*path, k], language)]
    elif isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _value_errors(v, [*path, i], language)]
    else:
        return []
    return [{"loc": ["body", "data", *path], "msg": _message(kind, language, expected), "type": kind}]


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:

    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:

    return _validator(json.dumps(schema, sort_keys=True))


def _message(kind: str, language: str, expected: Any = "") -> str:
    message = translations(language).gettext(MESSAGES.get(kind, MESSAGES["invalid"]))
    if isinstance(expected, list):
        expected = ", ".join(map(str, expected))
    return message % {"expected": expected} if "%(expected)s" in message else message


def form_errors(schema: dict[str, Any], data: Any, language: str = "en") -> list[dict[str, Any]]:
    """One error per invalid field: ``{"loc": ["body", "data", field...], "msg", "type"}``."""
    errors = _value_errors(data, [], language)
    if errors:
        return errors
    for err in sorted(validator_for(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = [*err.absolute_path]
        kind = str(err.validator)
        expected: Any = err.validator_value
        if kind == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            path.append(missing)
            expected = ""
        elif kind == "additionalProperties":
            extras = sorted(set(err.instance) - set(err.schema.get("properties", {}))) if isinstance(err.instance, dict) else []
            for extra in extras:
                errors.append({"loc": ["body", "data", *path, extra], "msg": _message(kind, language), "type": kind})
            continue
        errors.append({"loc": ["body", "data", *path], "msg": _message(kind, language, expected), "type": kind})
    return errors

"""Form data checked against the service's JSON Schema, with a message per field in the user's language."""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

MESSAGES: dict[str, dict[str, str]] = {
    "required": {
        "en": "this field is required",
        "ml": "ഈ വിവരം നൽകേണ്ടതാണ്",
        "kn": "ಈ ಮಾಹಿತಿ ಕಡ್ಡಾಯ",
        "hi": "यह जानकारी आवश्यक है",
    },
    "type": {
        "en": "expected {expected}",
        "ml": "{expected} ആയിരിക്കണം",
        "kn": "{expected} ಆಗಿರಬೇಕು",
        "hi": "{expected} होना चाहिए",
    },
    "enum": {
        "en": "choose one of: {expected}",
        "ml": "ഇവയിൽ ഒന്ന് തിരഞ്ഞെടുക്കുക: {expected}",
        "kn": "ಇವುಗಳಲ್ಲಿ ಒಂದನ್ನು ಆಯ್ಕೆಮಾಡಿ: {expected}",
        "hi": "इनमें से एक चुनें: {expected}",
    },
    "minLength": {
        "en": "at least {expected} characters",
        "ml": "കുറഞ്ഞത് {expected} അക്ഷരങ്ങൾ",
        "kn": "ಕನಿಷ್ಠ {expected} ಅಕ್ಷರಗಳು",
        "hi": "कम से कम {expected} अक्षर",
    },
    "maxLength": {
        "en": "at most {expected} characters",
        "ml": "പരമാവധി {expected} അക്ഷരങ്ങൾ",
        "kn": "ಗರಿಷ್ಠ {expected} ಅಕ್ಷರಗಳು",
        "hi": "अधिकतम {expected} अक्षर",
    },
    "minimum": {
        "en": "must be at least {expected}",
        "ml": "കുറഞ്ഞത് {expected} ആയിരിക്കണം",
        "kn": "ಕನಿಷ್ಠ {expected} ಆಗಿರಬೇಕು",
        "hi": "कम से कम {expected} होना चाहिए",
    },
    "maximum": {
        "en": "must be at most {expected}",
        "ml": "പരമാവധി {expected} ആയിരിക്കണം",
        "kn": "ಗರಿಷ್ಠ {expected} ಆಗಿರಬೇಕು",
        "hi": "अधिकतम {expected} होना चाहिए",
    },
    "format": {
        "en": "expected a valid {expected}",
        "ml": "ശരിയായ {expected} നൽകുക",
        "kn": "ಸರಿಯಾದ {expected} ನೀಡಿ",
        "hi": "सही {expected} दें",
    },
    "pattern": {
        "en": "not in the expected form",
        "ml": "ശരിയായ രൂപത്തിലല്ല",
        "kn": "ಸರಿಯಾದ ರೂಪದಲ್ಲಿಲ್ಲ",
        "hi": "सही रूप में नहीं है",
    },
    "additionalProperties": {
        "en": "is not a field of this form",
        "ml": "ഈ ഫോമിലെ വിവരമല്ല",
        "kn": "ಈ ಅರ್ಜಿಯ ಮಾಹಿತಿ ಅಲ್ಲ",
        "hi": "इस फ़ॉर्म का क्षेत्र नहीं है",
    },
    "number_range": {
        "en": "must be a finite number; whole numbers between {expected}",
        "ml": "പരിമിതമായ സംഖ്യ ആയിരിക്കണം; പൂർണ്ണസംഖ്യകൾ {expected} എന്നതിനിടയിൽ",
        "kn": "ಸೀಮಿತ ಸಂಖ್ಯೆ ಆಗಿರಬೇಕು; ಪೂರ್ಣಾಂಕಗಳು {expected} ನಡುವೆ",
        "hi": "सीमित संख्या होनी चाहिए; पूर्ण संख्याएँ {expected} के बीच",
    },
    "string_characters": {
        "en": "contains a character that is not allowed (NUL or an unpaired surrogate)",
        "ml": "അനുവദനീയമല്ലാത്ത ഒരു അക്ഷരം ഉണ്ട് (NUL അല്ലെങ്കിൽ ജോഡിയില്ലാത്ത സറോഗേറ്റ്)",
        "kn": "ಅನುಮತಿಯಿಲ್ಲದ ಅಕ್ಷರವಿದೆ (NUL ಅಥವಾ ಜೋಡಿಯಿಲ್ಲದ ಸರೊಗೇಟ್)",
        "hi": "इसमें ऐसा अक्षर है जिसकी अनुमति नहीं है (NUL या बिना जोड़ी का सरोगेट)",
    },
    "invalid": {"en": "is not valid", "ml": "ശരിയല്ല", "kn": "ಸರಿಯಲ್ಲ", "hi": "मान्य नहीं है"},
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
    table = MESSAGES.get(kind, MESSAGES["invalid"])
    if isinstance(expected, list):
        expected = ", ".join(map(str, expected))
    return table.get(language, table["en"]).format(expected=expected)


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

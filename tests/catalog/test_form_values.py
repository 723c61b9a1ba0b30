"""Pack form data refuses values no column or JSON document can hold, whatever the schema says
(issue 12, finding 3): page forms parse "inf" and long digit strings into such numbers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from nagara.catalog.forms import form_errors

SCHEMA = {
    "type": "object",
    "properties": {"ward": {"type": "integer"}, "area": {"type": "number"}, "name": {"type": "string"}},
}


@pytest.mark.parametrize(
    ("data", "field", "kind"),
    [
        ({"ward": 2**70}, "ward", "number_range"),
        ({"ward": -(2**64)}, "ward", "number_range"),
        ({"area": math.inf}, "area", "number_range"),
        ({"area": -math.inf}, "area", "number_range"),
        ({"area": math.nan}, "area", "number_range"),
        ({"name": "a\x00b"}, "name", "string_characters"),
        ({"name": "a\ud800b"}, "name", "string_characters"),
    ],
)
@pytest.mark.parametrize("language", ["en", "ml", "kn", "hi"])
def test_values_nothing_can_store_are_errors_naming_the_field(data: dict[str, Any], field: str, kind: str, language: str) -> None:
    errors = form_errors(SCHEMA, data, language)
    assert [(e["loc"], e["type"]) for e in errors] == [(["body", "data", field], kind)]
    assert errors[0]["msg"]


def test_ordinary_values_pass() -> None:
    assert form_errors(SCHEMA, {"ward": 2**63 - 1, "area": 1e300, "name": "ആൻ"}) == []

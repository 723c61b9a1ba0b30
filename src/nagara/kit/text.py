"""Text as it is kept: names and free text lose the invisible controls that reorder what is printed.

Bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069) and the
marks U+200E/U+200F let a name print as something else on a page or a certificate ("Trojan
source" for people's names). They are removed when the text comes in, so what is stored, signed
and printed is the same visible text. The script's own direction comes from its letters.
"""

from __future__ import annotations

import re
from typing import Any

BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_bidi(value: str) -> str:
    return BIDI_CONTROLS.sub("", value)


def strip_bidi_in(value: Any) -> Any:
    """``strip_bidi`` on every string of a JSON-like value; dicts and lists are changed in place."""
    if isinstance(value, str):
        return strip_bidi(value)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = strip_bidi_in(item)
    elif isinstance(value, list):
        value[:] = [strip_bidi_in(item) for item in value]
    return value

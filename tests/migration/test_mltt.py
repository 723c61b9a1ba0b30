"""ML-TT (Karthika family) Malayalam to Unicode: glyph table, signs typed before their consonant, conjuncts, chillus."""

from __future__ import annotations

import pytest

from nagara.migration.mltt import to_unicode

CASES = [
    ("tIcfw", "കേരളം"),  # േ typed before ക
    ("Xncph\\´]pcw", "തിരുവനന്തപുരം"),  # ന്ത as one glyph
    ("sImÃw", "കൊല്ലം"),  # ൊ = െ before, ാ after the consonant
    ("tPmk^v", "ജോസഫ്"),  # ോ = േ before, ാ after
    ("ssIe", "കൈല"),  # ൈ typed as two െ
    ("{]Imiw", "പ്രകാശം"),  # the reph ്ര typed before പ
    ("kqcy³", "സൂര്യൻ"),  # ്യ after its consonant; the chillu ൻ
    ("aÀ¡Sw", "മർക്കടം"),  # chillu ർ, conjunct ക്ക
    ("tImgn¡tfw", "കോഴിക്കളേം"),
    ("Ip«n", "കുട്ടി"),
    ("A½", "അമ്മ"),
    ("shÅw", "വെള്ളം"),
    ("Hma\\", "ഓമന"),  # ഓ drawn as ഒ and ാ: one letter in Unicode
    ("1990 ~aWn", "1990 ~മണി"),  # digits and spaces pass; a code the font does not remap stays as it was
]


@pytest.mark.parametrize(("typed", "unicode"), CASES)
def test_mltt_to_unicode(typed: str, unicode: str) -> None:
    assert to_unicode(typed) == unicode


def test_unicode_malayalam_and_english_pass_through_where_nothing_maps() -> None:
    assert to_unicode("123-45/67") == "123-45/67"

"""A run remembers what each field's raw text became (``Memo``), so repeated values are not parsed
again; what a row becomes must not depend on it, and its memory must stay bounded."""

from __future__ import annotations

from datetime import date

from nagara.migration.mapping import Memo, load_mapping
from tests.conftest import PACKS
from tests.migration.legacy import messy_births

BIRTHS = PACKS / "kl" / "migrations" / "kl-sevana-births.yaml"
TODAY = date(2026, 1, 15)


def test_a_row_converts_the_same_with_the_memo_as_without() -> None:
    mapping = load_mapping(BIRTHS)
    rows, _ = messy_births(400)
    memo = Memo(mapping)
    for row in rows + rows:  # the second pass is all remembered texts
        plain = mapping.convert(row, today=TODAY)
        remembered = mapping.convert(row, today=TODAY, memo=memo)
        assert remembered == plain
    assert any(plain.problems for plain in (mapping.convert(r, today=TODAY) for r in rows))  # refusals compared too


def test_a_field_of_unique_texts_stops_being_remembered_and_others_stay_bounded() -> None:
    mapping = load_mapping(BIRTHS)
    memo = Memo(mapping)
    memo.LIMIT = 50
    rows, _ = messy_births(1000)
    for row in rows:
        mapping.convert(row, today=TODAY, memo=memo)
    names = [f.name for f in mapping.fields]
    assert memo.caches[names.index("registration_number")] is None  # every number is new
    sex = memo.caches[names.index("sex")]
    assert sex is not None and set(sex) == {"M", "F"}  # a few texts met a thousand times
    assert all(c is None or len(c) <= memo.LIMIT for c in memo.caches)

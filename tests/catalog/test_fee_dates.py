"""Fee conditions on a day of each year (a yearly deadline), in the state's time zone, checked at pack load."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from nagara.catalog.fees import fee_day
from nagara.catalog.rules import assess_fees, holds, total
from nagara.runtime import Runtime
from nagara.tenancy.packs import InvalidPack, read_pack
from tests.conftest import PACKS

AFTER = {"op": "after_date", "value": "03-31"}
BEFORE = {"op": "before_date", "value": "04-01"}
LONG_AFTER = {"op": "days_after_date", "value": "03-31", "days": 30}


@pytest.mark.parametrize(
    ("day", "after", "before", "long_after"),
    [
        (date(2027, 1, 1), False, True, False),
        (date(2027, 3, 31), False, True, False),  # the deadline itself is not late
        (date(2027, 4, 1), True, False, False),
        (date(2027, 4, 30), True, False, False),  # 30 days past: not more than 30
        (date(2027, 5, 1), True, False, True),
        (date(2027, 12, 31), True, False, True),
        (date(2028, 3, 31), False, True, False),  # each year again (2028 is a leap year)
    ],
)
def test_a_yearly_date_holds_after_before_and_days_past(day: date, after: bool, before: bool, long_after: bool) -> None:
    assert holds(AFTER, {}, day) is after
    assert holds(BEFORE, {}, day) is before
    assert holds(LONG_AFTER, {}, day) is long_after


RENEWAL_FEES = {
    "items": [
        {"code": "licence", "name": {"en": "Licence fee"}, "kind": "fixed", "amount": 50000},
        {"code": "late", "name": {"en": "Late fee"}, "head": "penalty", "kind": "fixed", "amount": 10000, "when": [AFTER]},
        {"code": "very-late", "name": {"en": "Late fee"}, "head": "penalty", "kind": "fixed", "amount": 5000, "when": [LONG_AFTER]},
    ]
}


def test_a_late_fee_after_the_yearly_renewal_deadline() -> None:
    assert total(assess_fees(RENEWAL_FEES, {}, date(2027, 3, 31))) == 50000
    assert [ln.code for ln in assess_fees(RENEWAL_FEES, {}, date(2027, 4, 1))] == ["licence", "late"]
    assert total(assess_fees(RENEWAL_FEES, {}, date(2027, 6, 1))) == 65000


def test_the_day_is_the_states_not_utcs(runtime: Runtime) -> None:
    # 31 March, 20:00 UTC is 1 April, 01:30 in India: the late fee is owed
    evening = datetime(2027, 3, 31, 20, 0, tzinfo=UTC)
    with runtime.db.unit_of_work(readonly=True) as session:
        day = fee_day(session, "kl", evening)
    assert day == date(2027, 4, 1) and evening.date() == date(2027, 3, 31)
    assert [ln.code for ln in assess_fees(RENEWAL_FEES, {}, day)] == ["licence", "late"]


def _refused(tmp_path: Path, change: Any) -> dict[str, str]:
    pack = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", pack)
    path = pack / "services" / "trade-licence-renewal.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack)
    return {e.path: e.message for e in caught.value.errors if e.file == "services/trade-licence-renewal.yaml"}


@pytest.mark.parametrize(
    ("condition", "path", "says"),
    [
        ({"op": "after_date", "value": "02-30"}, "fees.items[0].when[0].value", "is not a day of each year"),
        ({"op": "after_date", "value": "02-29"}, "fees.items[0].when[0].value", "29 February is not in every year"),
        ({"op": "before_date", "value": "31-03"}, "fees.items[0].when[0].value", "does not match"),
        ({"op": "days_after_date", "value": "03-31"}, "fees.items[0].when[0]", "'days' is required"),
        ({"op": "after_date", "value": "03-31", "days": 5}, "fees.items[0].when[0]", "should not be valid"),
        ({"op": "yearly", "value": "03-31"}, "fees.items[0].when[0].op", "after_date, before_date, days_after_date"),
    ],
)
def test_a_bad_date_condition_is_refused_at_pack_load(tmp_path: Path, condition: dict[str, Any], path: str, says: str) -> None:
    def change(service: dict[str, Any]) -> None:
        service["fees"]["items"][0]["when"] = [condition]

    found = _refused(tmp_path, change)
    assert path in found, found
    assert says in found[path], found[path]


def test_a_date_condition_is_for_fees_only(tmp_path: Path) -> None:
    def change(service: dict[str, Any]) -> None:
        service["workflow"]["self_certification"] = {"when": [AFTER], "to": "approved"}

    found = _refused(tmp_path, change)
    assert any(path.startswith("workflow.self_certification.when[0]") for path in found), found

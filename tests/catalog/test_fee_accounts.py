"""Each fee item is booked to an account head of the chart, checked when the pack is read."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from nagara.payments.accounts import ACCOUNTS_FOR_HEAD, CHART
from nagara.tenancy.packs import InvalidPack, read_pack
from tests.conftest import PACKS

# What the shipped services charge for, and the chart's head for it.
EXPECTED = {
    "birth-certificate": "140-10",
    "khata-transfer": "140-10",
    "marriage-registration": "140-10",
    "trade-licence": "140-11",
    "trade-licence-new": "140-11",
    "trade-licence-renewal": "140-11",
    "building-permit": "140-20",
    "building-plan-approval": "140-20",
}


def _items() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.stem, item)
        for path in sorted(PACKS.glob("*/services/*.yaml"))
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")).get("fees") or {}).get("items", [])
    ]


def test_every_shipped_fee_item_names_the_head_it_is_booked_to() -> None:
    items = _items()
    assert items
    for service, item in items:
        head = item.get("head", "fee")
        assert item.get("account") in CHART, (service, item["code"])
        assert item["account"] in ACCOUNTS_FOR_HEAD[head], (service, item["code"])
        if head == "fee" and service in EXPECTED:
            assert item["account"] == EXPECTED[service], (service, item["code"])
        if head == "penalty":
            assert item["account"] == "140-60", (service, item["code"])
    assert "140-80" not in {item["account"] for _, item in items}  # nothing shipped is "other fees"


def _pack_with(tmp_path: Path, change: Any) -> Path:
    pack = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", pack)
    path = pack / "services" / "marriage-registration.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["fees"]["items"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return pack


def test_an_account_outside_the_chart_or_not_for_its_head_is_refused(tmp_path: Path) -> None:
    def change(items: list[dict[str, Any]]) -> None:
        items[0]["account"] = "140-99"  # not in the chart
        items[1]["account"] = "350-20"  # a liability, not a fee income

    with pytest.raises(InvalidPack) as caught:
        read_pack(_pack_with(tmp_path, change))
    found = {e.path: e.message for e in caught.value.errors if e.file == "services/marriage-registration.yaml"}
    assert "'140-99' is not in the chart of accounts" in found["fees.items[0].account"]
    assert "140-10" in found["fees.items[0].account"]  # says what is allowed
    assert "'350-20' (Cess collected" in found["fees.items[1].account"] and "is not for a fee" in found["fees.items[1].account"]

    def malformed(items: list[dict[str, Any]]) -> None:
        items[2]["account"] = "fees"  # not an account code at all

    with pytest.raises(InvalidPack) as caught:
        read_pack(_pack_with(tmp_path / "again", malformed))
    assert any(e.path == "fees.items[2].account" for e in caught.value.errors)

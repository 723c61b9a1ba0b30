"""The Jammu and Kashmir pack (packs/jk): a third state written from the authoring guide alone.

It declares Urdu, English and Hindi, and nothing asks it for Malayalam or Kannada; it loads with the
other packs, and its corporations, councils and committees offer its services with the time limits of
the J&K Public Services Guarantee Act 2011 (as the pack records them).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from nagara.tenancy.packs import InvalidPack, read_pack, required_languages, texts
from tests.conftest import PACKS

JK = PACKS / "jk"
SERVICES = {
    "birth-registration": 7,
    "death-registration": 7,
    "child-name-inclusion": 7,
    "trade-licence": 15,
    "building-permission": 30,
    "completion-certificate": 15,
    "advertisement-permission": 15,
    "road-cutting-permission": 10,
    "drain-connection": 7,
    "street-vending-certificate": 30,
    "no-dues-certificate": 7,
}


def test_the_pack_reads_in_urdu_english_and_hindi() -> None:
    pack = read_pack(JK)
    assert pack.meta["languages"] == ["ur", "en", "hi"]
    assert required_languages(pack.meta["languages"]) == ["en", "ur", "hi"]
    assert len(pack.districts) == 20
    assert {b["code"] for b in pack.local_bodies} >= {"jammu-corp", "srinagar-corp", "samba-committee", "kathua-council"}
    assert {b["type"] for b in pack.local_bodies} == {"corporation", "municipality"}
    assert {body: len(wards) for body, wards in pack.wards.items()} == {"jammu-corp": 75, "srinagar-corp": 74}
    assert {code: s["workflow"]["sla_days"] for code, s in pack.services.items()} == SERVICES


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "jk"
    shutil.copytree(JK, target)
    return target


def _rewrite(path: Path, change: Callable[[Any], Any]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_no_text_is_asked_for_in_malayalam_or_kannada() -> None:
    found = [
        (path.name, where, sorted(text))
        for path in JK.rglob("*.yaml")
        for where, text in texts(yaml.safe_load(path.read_text(encoding="utf-8")))
    ]
    assert len(found) > 500
    assert [entry for entry in found if entry[2] != ["en", "hi", "ur"]] == []  # and the pack is valid (above)


def test_a_text_without_urdu_is_refused_naming_the_language(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    _rewrite(target / "services" / "trade-licence.yaml", lambda d: d["name"].pop("ur"))
    with pytest.raises(InvalidPack) as caught:
        read_pack(target)
    [error] = [e for e in caught.value.errors if e.file == "services/trade-licence.yaml"]
    assert error.path == "name"
    assert error.message.startswith("the text lacks ur;")
    assert "en, ur, hi" in error.message


@pytest.mark.parametrize("body", ["jk.jammu-corp", "jk.srinagar-corp", "jk.kathua-council", "jk.samba-committee"])
def test_every_municipal_body_offers_the_services(client: TestClient, body: str) -> None:
    response = client.get(f"/api/v1/tenants/{body}/services")
    assert response.status_code == 200, response.text
    offered = {s["code"] for s in response.json()}
    assert offered == set(SERVICES)


def test_a_service_shows_its_urdu_name_and_psga_time_limit(client: TestClient) -> None:
    response = client.get("/api/v1/tenants/jk.jammu-corp/services/building-permission")
    assert response.status_code == 200, response.text
    service = response.json()
    assert service["name"]["ur"] == "عمارت کی تعمیر کی اجازت"
    assert "ml" not in service["name"]

"""Every text of every pack is in each language its pack declares (and English), and a pack missing one
is refused by name. Kerala and Karnataka declare the four languages en, ml, kn, hi.

A Kerala service with only Malayalam and English showed English names, forms and help on Hindi and
Kannada pages; validation now asks every text (names, descriptions, labels, help, options, documents,
fee items, states, actions, certificate text, roles, places) for en, ml, kn and hi.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nagara.tenancy import packs
from nagara.tenancy.packs import InvalidPack, read_pack, required_languages
from nagara.web.i18n import LANGUAGES
from tests.conftest import PACKS, ROOT

BENCH_SERVICE = ROOT / "bench" / "packs" / "quick-certificate.yaml"


FOUR = ["en", "ml", "kn", "hi"]


def _declared(pack: str) -> list[str]:
    meta = yaml.safe_load((PACKS / pack / "pack.yaml").read_text(encoding="utf-8"))
    return required_languages(meta["languages"], meta.get("text_languages", []))


@pytest.mark.parametrize("pack", ["kl", "ka"])
def test_kerala_and_karnataka_declare_the_four_languages(pack: str) -> None:
    assert sorted(_declared(pack)) == sorted(FOUR)


def test_every_declared_language_is_one_the_portal_offers() -> None:
    for directory in sorted(PACKS.glob("*/pack.yaml")):
        assert set(_declared(directory.parent.name)) <= set(LANGUAGES), directory


@pytest.mark.parametrize("path", sorted([*PACKS.rglob("*.yaml"), BENCH_SERVICE]), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_text_has_every_language(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = list(packs.texts(doc))
    wanted = FOUR if path == BENCH_SERVICE else _declared(path.relative_to(PACKS).parts[0])
    lacking = [(where, [lang for lang in wanted if not text.get(lang)]) for where, text in found]
    assert [entry for entry in lacking if entry[1]] == []
    if path.parent.name in ("services", "certificates"):
        assert found, "a service or certificate has texts"


def _copy_with(tmp_path: Path, rel: str, change: Callable[[Any], None]) -> Path:
    target = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", target)
    path = target / rel
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def _errors(pack: Path) -> dict[tuple[str, str], str]:
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack)
    return {(e.file, e.path): e.message for e in caught.value.errors}


def test_a_service_option_without_hindi_is_refused_naming_file_key_and_language(tmp_path: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["form"]["ui"]["fields"]["sex"]["options"]["female"]["hi"]

    errors = _errors(_copy_with(tmp_path, "services/birth-registration.yaml", drop))
    assert list(errors) == [("services/birth-registration.yaml", "form.ui.fields.sex.options.female")]
    message = errors[("services/birth-registration.yaml", "form.ui.fields.sex.options.female")]
    assert message.startswith("the text lacks hi;")
    assert "en, ml, kn, hi" in message


def test_a_service_name_without_kannada_is_refused(tmp_path: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["name"]["kn"]
        del data["documents"][0]["name"]["kn"]
        del data["documents"][0]["name"]["hi"]

    errors = _errors(_copy_with(tmp_path, "services/birth-registration.yaml", drop))
    assert errors[("services/birth-registration.yaml", "name")].startswith("the text lacks kn;")
    assert errors[("services/birth-registration.yaml", "documents[0].name")].startswith("the text lacks kn, hi;")


def test_a_role_or_a_ward_without_a_language_is_refused(tmp_path: Path) -> None:
    target = _copy_with(tmp_path, "roles.yaml", lambda d: d["roles"][0]["name"].pop("kn"))
    ward = target / "wards" / "tvm-corp.yaml"
    data = yaml.safe_load(ward.read_text(encoding="utf-8"))
    del data["wards"][0]["name"]["hi"]
    ward.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    errors = _errors(target)
    assert errors[("roles.yaml", "roles[0].name")].startswith("the text lacks kn;")
    assert errors[("wards/tvm-corp.yaml", "wards[0].name")].startswith("the text lacks hi;")


def test_a_certificate_text_without_hindi_is_refused(tmp_path: Path) -> None:
    errors = _errors(_copy_with(tmp_path, "certificates/birth-certificate.yaml", lambda d: d["statement"].pop("hi")))
    [message] = [m for (file, _path), m in errors.items() if file == "certificates"]
    assert "certificates/birth-certificate.yaml: statement: the text lacks hi" in message

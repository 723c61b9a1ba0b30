"""The pack authoring guide (docs/packs/) says only what is true.

Its complete examples (```yaml title=<file in a pack>) each validate against their schema, and
together make a small pack that validates and passes `nagara pack test`; its parts
(```yaml extends=<file>) validate once merged into that file; every key a schema allows is
documented, and every key its tables document exists.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from nagara.catalog.definitions import check_service
from nagara.certificates.templates import SCHEMA as TEMPLATE_SCHEMA
from nagara.certificates.templates import template_errors
from nagara.packtest import walk_pack
from nagara.tenancy.packs import REQUIRED_ROLES, SCHEMA_FILES, read_pack, required_languages, validators
from nagara.tenancy.packs_merge import deep_merge

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "packs"
FENCE = re.compile(r"^```yaml(?P<attrs>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ATTR = re.compile(r"(title|extends)=(\S+)")


@cache
def blocks() -> list[tuple[str, str, str, str]]:
    """(chapter, attribute, file, text) of every marked YAML block of the guide."""
    found = []
    for chapter in sorted(GUIDE.glob("*.md")):
        for match in FENCE.finditer(chapter.read_text(encoding="utf-8")):
            attr = ATTR.search(match["attrs"])
            if attr:
                found.append((chapter.name, attr[1], attr[2], match["body"]))
    return found


def complete() -> dict[str, Any]:
    files: dict[str, Any] = {}
    for chapter, attr, name, text in blocks():
        if attr == "title":
            assert name not in files, f"{chapter}: two complete examples of {name}"
            files[name] = yaml.safe_load(text)
    return files


def schema_of(name: str) -> str:
    if name.startswith("services/"):
        return "service"
    if name.startswith("wards/"):
        return "wards"
    return name.removesuffix(".yaml")


def languages() -> list[str]:
    """The languages every text must carry, as the pack loader checks them: the portal's four and the pack's."""
    meta = complete()["pack.yaml"]
    return required_languages(meta["languages"], meta.get("text_languages", []))


def test_the_guide_has_complete_examples_of_every_file_and_parts() -> None:
    names = set(complete())
    for required in ("pack.yaml", "calendar.yaml", "districts.yaml", "local_bodies.yaml", "roles.yaml"):
        assert required in names
    assert any(n.startswith("wards/") for n in names)
    assert any(n.startswith("services/") for n in names)
    assert any(n.startswith("certificates/") for n in names)
    assert sum(1 for _, attr, _, _ in blocks() if attr == "extends") >= 3


@pytest.mark.parametrize("name", sorted(complete()))
def test_each_complete_example_validates(name: str) -> None:
    data = complete()[name]
    if name.startswith("certificates/"):
        assert template_errors(Path(name), data, languages()) == []
        return
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validators()[schema_of(name)].iter_errors(data)]
    assert errors == []
    if name.startswith("services/"):
        roles = {r["code"] for r in complete()["roles.yaml"]["roles"]}
        assert check_service(data, roles=roles, languages=languages()) == []


@pytest.mark.parametrize(
    ("chapter", "base", "text"),
    [(chapter, name, text) for chapter, attr, name, text in blocks() if attr == "extends"],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v else "",
)
def test_each_part_validates_merged_into_its_file(chapter: str, base: str, text: str) -> None:
    assert base in complete(), f"{chapter}: extends {base}, which has no complete example"
    merged = deep_merge(complete()[base], yaml.safe_load(text))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validators()[schema_of(base)].iter_errors(merged)]
    assert errors == []
    roles = {r["code"] for r in complete()["roles.yaml"]["roles"]}
    assert check_service(merged, roles=roles, languages=languages()) == []


def test_the_examples_make_a_pack_that_validates_and_walks_clean(tmp_path: Path) -> None:
    code = complete()["pack.yaml"]["code"]
    pack_dir = tmp_path / code
    for _chapter, attr, name, text in blocks():
        if attr == "title":
            path = pack_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    pack = read_pack(pack_dir)
    assert set(REQUIRED_ROLES) <= {r["code"] for r in pack.roles}
    report = walk_pack(pack)
    assert report.services, "the guide's pack has no service"
    assert report.ok, [(s.service, s.local_body, s.problems) for s in report.services if not s.ok]
    # the body that overrides the service is walked with the override applied
    assert {s.local_body for s in report.services} >= {f"{code}.tvm-corp"}


# --- keys: every allowed key is documented, every documented key exists ----------------------


def _keys(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out.update(value)
            _keys(value, out)
    elif isinstance(node, list):
        for value in node:
            _keys(value, out)
    return out


@cache
def schema_keys() -> frozenset[str]:
    base = resources.files("nagara.tenancy") / "schemas"
    keys: set[str] = set()
    for name in SCHEMA_FILES:
        _keys(json.loads((base / f"{name}.schema.json").read_text(encoding="utf-8")), keys)
    _keys(TEMPLATE_SCHEMA, keys)
    return frozenset(keys)


def guide_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(GUIDE.glob("*.md")))


PROPERTY_TREE_KEYS = {"property_tax", "rates", "cess", "halves", "usage", "zone", "per_sqm_year", "percent_bp", "account",
                      "starts", "due", "rebate_until", "rebate_bp", "penalty_bp_per_month", "penalty_max_months", "vpa",
                      "payee_name"}  # property tax and UPI: documented by the comments of packs/kl/pack.yaml, referred to


def test_every_key_a_schema_allows_is_documented() -> None:
    text = guide_text()
    missing = [
        key
        for key in sorted(schema_keys() - PROPERTY_TREE_KEYS)
        if not re.search(rf"`[^`\n]*\b{re.escape(key)}\b[^`\n]*`", text)
    ]
    assert missing == []


def test_every_key_the_tables_document_exists() -> None:
    unknown = []
    for chapter in sorted(GUIDE.glob("*.md")):
        in_key_table = False
        for line in chapter.read_text(encoding="utf-8").splitlines():
            if line.startswith("| Key"):
                in_key_table = True
                continue
            if not line.startswith("|"):
                in_key_table = False
                continue
            if not in_key_table or line.startswith("|---"):
                continue
            first = line.split("|")[1]
            for token in re.findall(r"`([^`]+)`", first):
                for part in re.split(r"[.,\s]+", token):
                    if part and not part.startswith("<") and part not in schema_keys():
                        unknown.append(f"{chapter.name}: {token}")
    assert unknown == []


def test_the_readme_links_the_guide() -> None:
    readme = (GUIDE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/packs/README.md" in readme
    for chapter in sorted(GUIDE.glob("*.md")):
        if chapter.name != "README.md":
            assert f"({chapter.name})" in (GUIDE / "README.md").read_text(encoding="utf-8")

"""Every mapping the packs ship loads, names only bodies its state has, and fills the forms of the
service it is issued through with fields that service's form has."""

from __future__ import annotations

from pathlib import Path

import pytest

from nagara.catalog import service as catalog
from nagara.migration import records, service
from nagara.migration.mapping import MappingError, load_mapping
from nagara.runtime import Runtime
from tests.conftest import PACKS

MAPPINGS = sorted(PACKS.glob("*/migrations/*.yaml"))


def test_both_states_ship_mappings_for_the_registers_that_matter() -> None:
    shipped = {(p.parent.parent.name, load_mapping(p).register) for p in MAPPINGS}
    for register in ("births", "deaths", "marriages", "property", "trade-licences", "receipts"):
        assert ("kl", register) in shipped
    assert {("ka", "births"), ("ka", "property")} <= shipped


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda p: p.stem)
def test_a_shipped_mapping_fits_its_pack(runtime: Runtime, path: Path) -> None:
    mapping = load_mapping(path)
    assert mapping.code == path.stem
    assert mapping.state == path.parent.parent.name
    with runtime.db.unit_of_work(readonly=True) as s:
        assert service.check_mapping(s, mapping) == []
        if mapping.register in records.CIVIL_REGISTERS:
            assert mapping.service is not None
            body = next(iter(mapping.body_codes.values()))
            form = catalog.get_service(s, f"{mapping.state}.{body}", mapping.service).definition["form"]["schema"]
            used = {f.name for f in mapping.fields} & set(form["properties"])
            assert set(form["required"]) - used <= {"informant_relation", "informant_name", "place_of_marriage"} or used


def test_a_wrong_mapping_says_where(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "code: x\nregister: births\nstate: kl\ntitle: t\nbody: {code: tvm-corp}\nkey: [n]\nyear: d\n"
        "fields:\n  n: {column: N, type: text}\n  d: {column: D, type: date, formats: [dd/mm/yy]}\n"
    )
    with pytest.raises(MappingError, match=r"m.yaml.fields.d.formats: 'dd/mm/yy' is not one of"):
        load_mapping(path)

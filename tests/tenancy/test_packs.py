"""Packs: the shipped ones are valid; broken ones are refused with precise errors and never half-load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from nagara.cli import app as cli
from nagara.runtime import Runtime
from nagara.tenancy import packs
from nagara.tenancy.models import LocalBody, State, Ward
from nagara.tenancy.packs import InvalidPack, read_pack
from nagara.tenancy.service import load_pack
from tests.conftest import PACKS


def broken_copy(tmp_path: Path, edit: dict[str, object]) -> Path:
    target = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", target)
    for rel, change in edit.items():
        path = target / rel
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)  # type: ignore[operator]
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def test_shipped_packs_are_valid() -> None:
    kl = read_pack(PACKS / "kl")
    ka = read_pack(PACKS / "ka")
    assert kl.meta["languages"][0] == "ml"
    assert ka.meta["languages"][0] == "kn"
    assert sum(1 for b in kl.local_bodies if b["type"] == "corporation") == 6
    assert len(kl.wards) == 2
    assert len(kl.districts) == 14


def test_every_error_is_reported_with_file_path_and_expectation(tmp_path: Path) -> None:
    def break_bodies(data: dict) -> None:
        data["local_bodies"][0]["type"] = "metropolis"
        data["local_bodies"][1]["district"] = "atlantis"
        del data["local_bodies"][2]["name"]["ml"]
        data["local_bodies"][3]["colour"] = "blue"

    def break_roles(data: dict) -> None:
        data["roles"][0]["permissions"].append("identity:everything:own")
        data["roles"] = [r for r in data["roles"] if r["code"] != "auditor"]

    pack = broken_copy(tmp_path, {"local_bodies.yaml": break_bodies, "roles.yaml": break_roles})
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack)
    errors = {(e.file, e.path): e.message for e in caught.value.errors}
    assert "expected one of: corporation" in errors[("local_bodies.yaml", "local_bodies[0].type")]
    assert "'atlantis' is not in districts.yaml" in errors[("local_bodies.yaml", "local_bodies[1].district")]
    assert "the text lacks ml" in errors[("local_bodies.yaml", "local_bodies[2].name")]
    assert "allowed keys" in errors[("local_bodies.yaml", "local_bodies[3]")]
    perm = next(m for (f, p), m in errors.items() if f == "roles.yaml" and p.startswith("roles[0].permissions"))
    assert "unknown permission 'identity:everything:own'" in perm
    assert "'auditor' is required" in errors[("roles.yaml", "roles")]
    assert len(caught.value.errors) == 6


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path, {})
    (pack / "districts.yaml").write_text("districts:\n  - {code: tvm, lgd_code: [\n", encoding="utf-8")
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack)
    [error] = caught.value.errors
    assert error.file == "districts.yaml"
    assert error.path.startswith("line ")


def test_the_validate_command_lists_errors_and_exits_non_zero(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path, {"pack.yaml": lambda d: d.update(languages=["ml", "klingon"])})
    result = CliRunner().invoke(cli, ["pack", "validate", str(pack)])
    assert result.exit_code == 1
    assert "pack.yaml: languages[1]: 'klingon' is not allowed" in result.output
    ok = CliRunner().invoke(cli, ["pack", "validate", str(PACKS / "kl"), str(PACKS / "ka")])
    assert ok.exit_code == 0, ok.output


def test_a_broken_pack_never_half_loads(runtime: Runtime, tmp_path: Path) -> None:
    """Loading is all or nothing: an error after some rows were written leaves none of them."""
    pack = read_pack(PACKS / "kl")
    pack.meta = {**pack.meta, "code": "xx", "lgd_code": 99}
    pack.wards = {"no-such-body": [{"number": 1, "name": {"ml": "x", "en": "x"}}]}
    with pytest.raises(Exception, match=r"(?i)foreign key|constraint"), runtime.db.unit_of_work() as s:
        load_pack(s, pack)
    with runtime.db.unit_of_work() as s:
        assert s.get(State, "xx") is None
        assert s.scalar(select(func.count()).select_from(LocalBody).where(LocalBody.state_code == "xx")) == 0


def test_without_the_other_domains_checks_a_pack_is_neither_read_nor_loaded(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permissions, services and certificate templates are checked by domains above tenancy: never skipped silently."""
    pack = read_pack(PACKS / "kl")
    pack.meta = {**pack.meta, "code": "xx", "lgd_code": 99}
    monkeypatch.setattr(packs, "_PARTS", None)
    with pytest.raises(RuntimeError, match=r"call nagara\.domains\.load_all\(\)"):
        read_pack(PACKS / "kl")
    with runtime.db.unit_of_work() as s:
        with pytest.raises(RuntimeError, match=r"call nagara\.domains\.load_all\(\)"):
            load_pack(s, pack)
        assert not s.new and not s.dirty


def test_loading_twice_changes_nothing(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        before = s.scalar(select(func.count()).select_from(Ward))
        load_pack(s, read_pack(PACKS / "kl"))
    with runtime.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Ward)) == before


def test_a_local_body_overrides_state_definitions(client: TestClient) -> None:
    tvm = client.get("/api/v1/local-bodies/kl.tvm-corp/settings").json()["settings"]
    state_defaults = yaml.safe_load((PACKS / "kl" / "pack.yaml").read_text(encoding="utf-8"))["defaults"]
    assert tvm["office_hours"] != state_defaults["office_hours"]
    pongala = [h for h in tvm["calendar"]["holidays"] if h["name"]["en"] == "Attukal Pongala"]
    assert pongala
    day = pongala[0]["date"]
    tvm_days = client.get("/api/v1/local-bodies/kl.tvm-corp/working-days", params={"from": day, "days": 1}).json()
    other = next(b["code"] for b in client.get("/api/v1/states/kl/local-bodies", params={"type": "grama_panchayat"}).json())
    other_days = client.get(f"/api/v1/local-bodies/{other}/working-days", params={"from": day, "days": 1}).json()
    assert tvm_days[0]["working"] is False
    assert other_days[0]["working"] is True  # the local holiday is Thiruvananthapuram's only


def test_tenant_tree_reads(client: TestClient) -> None:
    states = {s["code"]: s for s in client.get("/api/v1/states").json()}
    assert set(states) >= {"kl", "ka"}
    assert states["kl"]["lgd_code"] == 32
    corps = client.get("/api/v1/states/kl/local-bodies", params={"type": "corporation"}).json()
    assert len(corps) == 6
    assert all(c["code"].startswith("kl.") for c in corps)
    wards = client.get("/api/v1/local-bodies/kl.tvm-corp/wards").json()
    assert len(wards) >= 100
    assert wards[0]["code"] == "kl.tvm-corp.w1"
    bad = client.get("/api/v1/states/kl/local-bodies", params={"type": "city"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "type"]
    missing = client.get("/api/v1/local-bodies/kl.atlantis")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

"""``nagara migrate`` as an operator runs it, against a database of its own."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nagara.cli import app as cli
from tests.conftest import PACKS, DatabaseFactory
from tests.migration.legacy import BIRTH_COLUMNS, messy_births, write_csv

BIRTHS = str(PACKS / "kl" / "migrations" / "kl-sevana-births.yaml")


@pytest.fixture
def operator_env(db_factory: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = db_factory.new_url(migrated=False)
    monkeypatch.setenv("NAGARA_DATABASE_URL", url)
    monkeypatch.setenv("NAGARA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("NAGARA_PACKS_DIR", str(PACKS))
    monkeypatch.setenv("NAGARA_LOG_JSON", "false")
    return url


def test_plan_dry_run_run_and_report(operator_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["pack", "load"]).exit_code == 0
    rows, expected = messy_births(40)
    source = str(write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows))

    planned = runner.invoke(cli, ["migrate", "plan", source, "--mapping", BIRTHS])
    assert planned.exit_code == 0, planned.output
    assert "register births" in planned.output and "missing column" not in planned.output

    dry = runner.invoke(cli, ["migrate", "dry-run", source, "-m", BIRTHS, "--rejects", str(tmp_path / "dry.csv")])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.output
    assert f"source rows 40 = imported {expected.imported} + rejected {len(expected.rejected)}" in dry.output

    done = runner.invoke(cli, ["migrate", "run", source, "-m", BIRTHS, "--batch-size", "9", "--rejects", str(tmp_path / "r.csv")])
    assert done.exit_code == 0, done.output
    assert "holds" in done.output
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as f:
        rejects = list(csv.DictReader(f))
    assert {int(r["row"]) for r in rejects if r["kind"] == "rejected"} == set(expected.rejected)
    assert {int(r["row"]) for r in rejects if r["kind"] == "duplicate"} == set(expected.duplicates)
    assert all(r["reason"] for r in rejects)

    report = runner.invoke(cli, ["migrate", "report", "--json", str(tmp_path / "report.json")])
    assert report.exit_code == 0, report.output
    assert "signature valid" in report.output
    signed = json.loads((tmp_path / "report.json").read_text())
    assert signed["report"]["totals"]["source"] == 40
    assert signed["signature"]["alg"] == "Ed25519"

    wrong = runner.invoke(cli, ["migrate", "run", str(tmp_path / "nothing.csv"), "-m", BIRTHS])
    assert wrong.exit_code == 2
    assert "no such file" in wrong.output

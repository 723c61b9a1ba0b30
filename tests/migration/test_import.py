"""Importing legacy registers: every row accounted for, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nagara.ledger.models import PendingEntry
from nagara.migration import service
from nagara.migration.mapping import load_mapping
from nagara.migration.models import MigrationIssue, MigrationRecord, MigrationRun
from nagara.migration.sources import open_source
from nagara.runtime import Runtime
from tests.conftest import PACKS
from tests.migration.legacy import BIRTH_COLUMNS, messy_births, write_csv, write_json, write_xlsx

BIRTHS = PACKS / "kl" / "migrations" / "kl-sevana-births.yaml"


def _records(runtime: Runtime) -> list[MigrationRecord]:
    with runtime.db.unit_of_work(readonly=True) as s:
        return list(s.scalars(select(MigrationRecord).order_by(MigrationRecord.source_row)))


def _issues(runtime: Runtime, run_id: str) -> list[MigrationIssue]:
    with runtime.db.unit_of_work(readonly=True) as s:
        return list(service.issues_of(s, run_id))


def test_every_row_of_a_messy_export_is_accounted_for(runtime: Runtime, tmp_path: Path) -> None:
    rows, expected = messy_births(230)
    path = write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows)  # UTF-8 with a BOM, Windows line endings
    outcome = service.run(runtime, load_mapping(BIRTHS), open_source(path), batch_size=40)
    total = service.totals(outcome.tally.groups)
    assert total["source"] == len(rows)
    assert total["imported"] == expected.imported
    assert total["rejected"] == len(expected.rejected)
    assert total["duplicate"] == len(expected.duplicates)
    assert service.balanced(total)
    assert all(service.balanced(g) for g in outcome.tally.groups.values())

    issues = _issues(runtime, outcome.run_id or "")
    rejected = {i.source_row: i for i in issues if i.kind == "rejected"}
    assert {row: i.column for row, i in rejected.items()} == expected.rejected
    assert "is not a real date" in rejected[4].reason  # 31/02/2001
    assert rejected[5].reason == "is required and empty"
    assert "Kannada letters" in rejected[6].reason
    assert "'999999' is not a local body code" in rejected[8].reason
    duplicates = {i.source_row: i for i in issues if i.kind == "duplicate"}
    assert {row: int(i.reason.split("as row ")[1].split(";")[0]) for row, i in duplicates.items()} == expected.duplicates

    records = _records(runtime)
    assert len(records) == expected.imported
    data = {r.source_row: json.loads(runtime.cipher.decrypt(r.data_sealed, context="migration-record")) for r in records}
    assert data[2]["child_name_ml"] == "അനു"  # typed in ML-TT Karthika: "A\p"
    assert data[3]["child_name_ml"] == "സൂര്യൻ"
    assert data[7]["child_name"] == "Child 5"  # "  Child\xa0 5 \t"
    assert data[9]["registration_date"] == "1982-02-25"  # Excel serial 30007 (Excel shows 30000 as 18-02-1982)
    assert {r.local_body_code for r in records} == {"kl.tvm-corp", "kl.kollam-corp"}
    assert records[0].legacy_number == "B-1990-0000000"


def test_a_second_run_of_the_same_file_adds_nothing(runtime: Runtime, tmp_path: Path) -> None:
    rows, expected = messy_births(60)
    path = write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows)
    first = service.run(runtime, load_mapping(BIRTHS), open_source(path), batch_size=25)
    second = service.run(runtime, load_mapping(BIRTHS), open_source(path), batch_size=7)
    assert first.run_id != second.run_id
    assert len(_records(runtime)) == expected.imported
    t1, t2 = service.totals(first.tally.groups), service.totals(second.tally.groups)
    assert t2["unchanged"] == t2["imported"] == t1["imported"] == expected.imported
    assert (t2["rejected"], t2["duplicate"]) == (t1["rejected"], t1["duplicate"])
    chains = [{k: g["records_sha256"] for k, g in o.tally.groups.items()} for o in (first, second)]
    assert chains[0] == chains[1]


def test_a_changed_record_is_refused_not_overwritten(runtime: Runtime, tmp_path: Path) -> None:
    rows, _ = messy_births(12)
    service.run(runtime, load_mapping(BIRTHS), open_source(write_csv(tmp_path / "a.csv", BIRTH_COLUMNS, rows)))
    rows[0]["FATHER_NAME"] = "Jose"
    outcome = service.run(runtime, load_mapping(BIRTHS), open_source(write_csv(tmp_path / "b.csv", BIRTH_COLUMNS, rows)))
    issues = [i for i in _issues(runtime, outcome.run_id or "") if i.source_row == 2]
    assert [i.kind for i in issues] == ["rejected"]
    assert "imported by an earlier run with different values" in issues[0].reason


def test_a_dry_run_checks_every_row_and_writes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    rows, expected = messy_births(80)
    path = write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows)
    outcome = service.run(runtime, load_mapping(BIRTHS), open_source(path), batch_size=30, dry_run=True)
    total = service.totals(outcome.tally.groups)
    assert (total["imported"], total["rejected"], total["duplicate"]) == (
        expected.imported,
        len(expected.rejected),
        len(expected.duplicates),
    )
    assert {row for row, kind, _c, _r in outcome.issues if kind == "duplicate"} == set(expected.duplicates)
    with runtime.db.unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(MigrationRecord)) == 0
        assert s.scalar(select(func.count()).select_from(MigrationRun)) == 0


@pytest.mark.parametrize("kind", ["utf-16 csv", "lf csv", "json", "xlsx"])
def test_every_format_gives_the_same_records(runtime: Runtime, tmp_path: Path, kind: str) -> None:
    rows, expected = messy_births(50)
    reference = service.run(
        runtime, load_mapping(BIRTHS), open_source(write_csv(tmp_path / "ref.csv", BIRTH_COLUMNS, rows)), dry_run=True
    )
    if kind == "utf-16 csv":
        path = write_csv(tmp_path / "b.csv", BIRTH_COLUMNS, rows, encoding="utf-16")
    elif kind == "lf csv":
        path = write_csv(tmp_path / "b.csv", BIRTH_COLUMNS, rows, encoding="utf-8", newline="\n")
    elif kind == "json":
        path = write_json(tmp_path / "b.json", rows)
    else:
        path = write_xlsx(tmp_path / "b.xlsx", BIRTH_COLUMNS, rows)
    outcome = service.run(runtime, load_mapping(BIRTHS), open_source(path), batch_size=20)
    total = service.totals(outcome.tally.groups)
    assert total["imported"] == expected.imported
    shift = -1 if kind == "json" else 0  # JSON rows count from 1, the others after a header row
    assert {i.source_row - shift for i in _issues(runtime, outcome.run_id or "") if i.kind == "rejected"} == set(
        expected.rejected
    )
    assert {k: g["records_sha256"] for k, g in outcome.tally.groups.items()} == {
        k: g["records_sha256"] for k, g in reference.tally.groups.items()
    }


def test_the_report_is_signed_and_its_hash_is_on_the_ledger(runtime: Runtime, tmp_path: Path) -> None:
    rows, expected = messy_births(30)
    path = write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows)
    outcome = service.run(runtime, load_mapping(BIRTHS), open_source(path))
    with runtime.db.unit_of_work(readonly=True) as s:
        run_row = s.get(MigrationRun, outcome.run_id)
        assert run_row is not None and run_row.report is not None
        assert run_row.status == "done"
        assert run_row.report["source"]["sha256"] == open_source(path).sha256
        assert run_row.report["totals"]["imported"] == expected.imported
        assert run_row.report["totals"]["balanced"] is True
        assert service.verify_signature(runtime, run_row)
        entry = s.get(PendingEntry, run_row.ledger_pending_id)
        assert entry is not None and entry.type == "migration.reconciled" and entry.subject == f"migration/{run_row.id}"
        run_row.report["totals"]["imported"] += 1  # a report changed afterwards no longer matches its signature
        assert not service.verify_signature(runtime, run_row)

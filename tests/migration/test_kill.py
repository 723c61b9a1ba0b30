"""A run killed with SIGKILL in the middle resumes from its last committed batch and ends with
the same records and the same reconciliation as a run never interrupted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from nagara.kit.db import Database, make_engine
from nagara.migration import service
from nagara.migration.mapping import load_mapping
from nagara.migration.models import MigrationIssue, MigrationRecord, MigrationRun
from nagara.migration.sources import open_source
from nagara.runtime import build_runtime
from nagara.tenancy.packs import discover, read_pack
from nagara.tenancy.service import load_pack
from tests.conftest import PACKS, DatabaseFactory
from tests.conftest import test_settings as settings_for
from tests.ledger.child import Child, child_env
from tests.migration.legacy import BIRTH_COLUMNS, messy_births, write_csv

BIRTHS = PACKS / "kl" / "migrations" / "kl-sevana-births.yaml"
ROWS = 20_000


def test_a_killed_run_resumes_where_its_last_batch_committed(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url()
    rt = build_runtime(settings_for(url, tmp_path), db=Database(make_engine(url)))
    with rt.db.unit_of_work() as s:
        for directory in discover(PACKS):
            load_pack(s, read_pack(directory))
    rows, expected = messy_births(ROWS)
    path = write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows)
    env = child_env({"env": "test", "database_url": url, "var_dir": str(tmp_path), "packs_dir": str(PACKS), "log_json": "false"})
    args = ["migrate", "run", str(path), "--mapping", str(BIRTHS), "--batch-size", "200"]

    def committed() -> int:
        with rt.db.unit_of_work(readonly=True) as s:
            return int(s.scalar(select(func.max(MigrationRun.committed_row))) or 0)

    child = Child(args, env, tmp_path / "first.log")
    try:
        child.wait_for("a committed batch", lambda: committed() > 0, timeout=120)
    finally:
        child.kill()
    with rt.db.unit_of_work(readonly=True) as s:
        stopped = s.scalars(select(MigrationRun)).one()
        assert stopped.status == "running", "the run finished before the kill; the test proves nothing"
        assert 0 < stopped.committed_row < ROWS + 1
        written = s.scalar(
            select(func.count()).select_from(MigrationRecord).where(MigrationRecord.source_row > stopped.committed_row)
        )
        assert written == 0, "records beyond the last committed row survived the kill"

    again = Child(args, env, tmp_path / "second.log")
    again.wait_for("the end of the run", lambda: not again.alive(), timeout=600)
    assert again.proc.returncode == 0, again.tail()
    assert f"resumed after row {stopped.committed_row}" in again.log.read_text()

    reference = service.run(rt, load_mapping(BIRTHS), open_source(path), dry_run=True)
    with rt.db.unit_of_work(readonly=True) as s:
        run_row = s.scalars(select(MigrationRun)).one()
        assert run_row.id == stopped.id
        assert run_row.status == "done"
        assert service.verify_signature(rt, run_row)
        assert s.scalar(select(func.count()).select_from(MigrationRecord)) == expected.imported
        issues = s.scalar(select(func.count()).select_from(MigrationIssue))
        assert issues == len(expected.rejected) + len(expected.duplicates)
        groups = run_row.tallies
    assert {k: (g["source"], g["imported"], g["rejected"], g["duplicate"], g["records_sha256"]) for k, g in groups.items()} == {
        k: (g["source"], g["imported"], g["rejected"], g["duplicate"], g["records_sha256"])
        for k, g in reference.tally.groups.items()
    }
    rt.db.dispose()

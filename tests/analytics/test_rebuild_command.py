"""``nagara analytics rebuild`` on a database of its own (the fold itself: test_rollups.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from nagara.analytics.models import Count, Cursor
from nagara.cli import app as cli
from nagara.kit.settings import Settings
from nagara.runtime import build_runtime
from tests.test_cli import operator_env  # noqa: F401 - a fixture


def test_rebuild_replaces_what_the_tables_held(operator_env: str, tmp_path: Path) -> None:  # noqa: F811
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    rt = build_runtime(Settings(env="test", database_url=operator_env, var_dir=tmp_path, log_json=False))
    try:
        with rt.db.unit_of_work() as s:  # a count no record backs
            s.execute(
                insert(Count).values(
                    local_body_code="kl.tvm-corp",
                    day=date(2026, 1, 1),
                    ward_code="",
                    subject="birth-registration",
                    channel="online",
                    measure="received",
                    bucket=0,
                    state_code="kl",
                    district_code="kl.tvm",
                    value=7,
                )
            )
        result = CliRunner().invoke(cli, ["analytics", "rebuild", "--batch", "3"])
        assert result.exit_code == 0, result.output
        assert "rollups rebuilt from 0 submitted application(s)" in result.output
        with rt.db.unit_of_work(readonly=True) as s:
            assert s.scalar(select(func.count()).select_from(Count)) == 0
            assert s.scalar(select(Cursor.position).where(Cursor.name == "ledger")) == 0
    finally:
        rt.db.dispose()

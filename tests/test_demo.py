"""``nagara demo`` on a fresh database: the sample data gives every demo user something to see,
made by the real services (the ledger verifies from outside, the journal balances)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from nagara.app import create_app
from nagara.cli import app as cli
from nagara.demo import DEMO_CITIZEN_MOBILE, demo_officers
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.db import clock_set_to, utcnow
from nagara.kit.settings import Settings
from nagara.ledger.client import verify_log
from nagara.payments import accounts
from nagara.payments.models import JournalEntry
from nagara.runtime import build_runtime
from tests.conftest import PACKS, DatabaseFactory

# Roles the workflows hand work to: each demo officer holding one has an inbox with work in it.
# (Counter clerks take payments, operators file for citizens and auditors read: no work is
# ever assigned to them; they are checked for what they do see.)
INBOX_ROLES = {"section_clerk", "officer", "secretary", "appellate_authority", "state_admin"}


@pytest.fixture
def demo_env(db_factory: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = db_factory.new_url(migrated=False)
    monkeypatch.setenv("NAGARA_DATABASE_URL", url)
    monkeypatch.setenv("NAGARA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("NAGARA_PACKS_DIR", str(PACKS))
    monkeypatch.setenv("NAGARA_LOG_JSON", "false")
    return url


def test_the_demo_starts_with_work_for_everyone(demo_env: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--applications", "160"])
    assert result.exit_code == 0, result.output
    assert "sample: 160 applications" in result.output
    assert "refused" not in result.output  # every step of the plan was allowed by the services

    rt = build_runtime(Settings(env="test", database_url=demo_env, var_dir=tmp_path, worker_embedded=False))
    try:
        with rt.db.unit_of_work() as s:
            people = demo_officers(s)
            tokens = {}
            for p in people:
                user = s.scalar(select(User).where(User.username == p.username))
                assert user is not None
                tokens[p.username] = identity.issue_token(s, user, "bearer")
            for state in ("kl", "ka"):
                index = identity.mobile_index(rt, state, identity.normalise_mobile(DEMO_CITIZEN_MOBILE))
                citizen = s.scalar(select(User).where(User.mobile_index == index))
                assert citizen is not None
                tokens[f"citizen.{state}"] = identity.issue_token(s, citizen, "bearer")
            assert accounts.unbalanced_entries(s) == []
            vouchers = s.scalars(select(JournalEntry.local_body_code).distinct()).all()
        assert len(vouchers) == 4  # payments were taken in every demo local body

        def get(who: str, path: str, **params: object) -> object:
            response = client.get(path, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == 200, (who, path, response.text)
            return response.json()

        with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:
            for p in people:
                if p.role in INBOX_ROLES:
                    assert get(p.username, "/api/v1/inbox"), f"{p.username} has an empty inbox"
            overdue = [p.username for p in people if p.role in INBOX_ROLES and get(p.username, "/api/v1/inbox", overdue=True)]
            assert overdue, "some work is past its time limit"

            for state in ("kl", "ka"):
                mine = get(f"citizen.{state}", "/api/v1/applications", limit=500)
                assert isinstance(mine, list)
                assert {a["state"] for a in mine} >= {"draft", "returned", "approved", "first_appeal"}, mine

            today = utcnow().date()
            for p in people:
                if p.role == "counter_clerk":
                    assert p.local_body is not None
                    days = [today - timedelta(days=d) for d in range(95)]
                    totals = [
                        get(p.username, f"/api/v1/local-bodies/{p.local_body}/counter/day-report", date=d.isoformat())
                        for d in days
                    ]
                    assert any(t["total"] > 0 for t in totals if isinstance(t, dict)), f"{p.username} took no payments"
                if p.role == "secretary":
                    approved = get(p.username, "/api/v1/applications", state="approved", limit=500)
                    assert isinstance(approved, list)
                    assert approved
                    with_output = [
                        client.get(
                            f"/api/v1/applications/{a['number']}/certificate",
                            headers={"Authorization": f"Bearer {tokens[p.username]}"},
                        ).status_code
                        for a in approved
                    ]
                    assert 200 in with_output, "approved applications have their certificates"
                if p.role == "auditor":
                    assert get(p.username, "/api/v1/applications")

            report = verify_log(client, "https://testserver", state_path=tmp_path / "seen.json", full=True)
            assert report.size > 160
            assert report.entries_checked == report.size
    finally:
        rt.db.dispose()

    again = CliRunner().invoke(cli, ["demo", "--no-serve"])  # a database with applications is left as it is
    assert again.exit_code == 0, again.output
    assert "sample:" not in again.output


def test_the_clock_can_be_set_for_a_block_only() -> None:
    then = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    with clock_set_to(then):
        assert utcnow() == then
    assert utcnow() - datetime.now(UTC) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="naive"), clock_set_to(datetime(2026, 1, 5)):  # noqa: DTZ001 - the point
        pass

"""A passed time limit tells the citizen and the officers; officers get a daily digest; the CLI sends a test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from nagara.applications.models import Application
from nagara.applications.service import sweep_due
from nagara.cli import app as cli
from nagara.kit.db import utcnow
from nagara.notifications import service
from nagara.notifications.models import Notification
from nagara.runtime import Runtime
from nagara.worker.runner import Worker
from tests.applications.test_rules import submitted_birth
from tests.conftest import People
from tests.notifications.fakes import provider


def _portal(runtime: Runtime, event: str) -> dict[str, Notification]:
    with runtime.db.unit_of_work() as s:
        rows = list(s.scalars(select(Notification).where(Notification.event == event, Notification.channel == "portal")))
        s.expunge_all()
    return {n.user_id: n for n in rows}


def test_a_passed_time_limit_tells_the_citizen_the_holder_and_the_supervisor(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    app = submitted_birth(client, people)
    with runtime.db.unit_of_work() as s:
        holder = s.scalars(select(Application.assigned_to_id).where(Application.number == app["number"])).one()
        sweep_due(s, now=utcnow() + timedelta(days=30))
    Worker(runtime.db).run_until_idle()
    citizen = _portal(runtime, "overdue")
    assert set(citizen) == {people.users["citizen1"].id}
    assert app["number"] in citizen[people.users["citizen1"].id].body
    officers = _portal(runtime, "overdue_officer")
    assert holder in officers  # who held it when the limit passed
    assert people.users["a_officer"].id in officers  # the role it escalated to
    assert people.users["citizen1"].id not in officers
    assert all(n.link and n.link.endswith(f"/officer/applications/{app['number']}") for n in officers.values())
    with runtime.db.unit_of_work() as s:  # once: a second sweep finds nothing new, the jobs are done
        sweep_due(s, now=utcnow() + timedelta(days=30))
    Worker(runtime.db).run_until_idle()
    assert len(_portal(runtime, "overdue")) == 1


def test_the_daily_digest_counts_each_officers_due_and_overdue_work_once_a_day(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    first, second = submitted_birth(client, people), submitted_birth(client, people)
    with runtime.db.unit_of_work() as s:
        apps = list(s.scalars(select(Application).where(Application.number.in_([first["number"], second["number"]]))))
        holder = apps[0].assigned_to_id
        assert holder is not None
        morning = datetime.combine(utcnow().date(), datetime.min.time(), UTC) + timedelta(hours=4)  # 09:30 in Kolkata
        apps[0].assigned_to_id = apps[1].assigned_to_id = holder
        apps[0].state_due_at = morning + timedelta(hours=6)  # due later today (Kolkata)
        apps[1].state_due_at = morning - timedelta(days=2)  # overdue
        written = service.daily_digest(s, now=morning)
        again = service.daily_digest(s, now=morning + timedelta(hours=1))
        early = service.daily_digest(s, now=morning + timedelta(hours=20))  # 05:30 next day: before 08:00
    assert written >= 1 and again == 0 and early == 0
    digest = _portal(runtime, "digest")
    assert holder in digest
    assert digest[holder].variables == {"due_today": "1", "overdue": "1", "link": f"{runtime.settings.base_url}/officer"}


def test_the_cli_sends_a_test_sms_through_the_configured_provider(base_url: str, tmp_path: Path) -> None:
    with provider() as fake:
        env = {
            "NAGARA_ENV": "test",
            "NAGARA_DATABASE_URL": base_url,
            "NAGARA_VAR_DIR": str(tmp_path),
            "NAGARA_SMS_BACKEND": "http",
            "NAGARA_SMS_HTTP_URL": f"{fake.url}/v1/sms",
            "NAGARA_SMS_HTTP_TOKEN": "provider-token",
        }
        result = CliRunner().invoke(cli, ["notifications", "test", "+919847000001", "--language", "ml"], env=env)
        assert result.exit_code == 0, result.output
        [request] = fake.requests
        assert request["body"]["to"] == "+919847000001"
        assert request["body"]["dlt_template_id"] == "1107000000000000001"
        assert request["body"]["text"].startswith("അപേക്ഷ TEST-0000-000001 ലഭിച്ചു")
        assert "prov-1" in result.output
        refused = CliRunner().invoke(cli, ["notifications", "test", "x", "--channel", "fax"], env=env)
        assert refused.exit_code == 2 and "channel must be one of sms, email, whatsapp" in refused.output

"""A step reaches people through the outbox: its job is written in the step's transaction, so a step
committed long after its own time is told all the same, and a rolled-back step tells nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.applications import service as applications
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.db import clock_set_to, utcnow
from nagara.runtime import Runtime
from nagara.worker.models import Job
from nagara.workflow.models import HistoryEntry
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.conftest import People
from tests.notifications.helpers import deliver, messages, quiet_hours


@pytest.fixture(autouse=True)
def daytime(runtime: Runtime, people: People) -> None:
    quiet_hours(runtime, "kl", now_inside=False)


def _draft(client: TestClient, people: People) -> dict[str, object]:
    app = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", str(app["number"]), code)
    return fetch(client, people, "citizen1", str(app["number"]))


def _submit_in_a_unit_of_work(runtime: Runtime, people: People, app: dict[str, object]) -> None:
    with runtime.db.unit_of_work() as s:
        principal = identity.load_principal(s, s.get(User, people.users["citizen1"].id), "bearer")  # type: ignore[arg-type]
        applications.act(s, principal, str(app["number"]), action="submit", comment=None, version=int(str(app["version"])))


def _step_jobs(runtime: Runtime) -> int:
    with runtime.db.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(Job).where(Job.name == "notifications.step")) or 0)


def test_a_step_committed_long_after_its_time_is_told(client: TestClient, people: People, runtime: Runtime) -> None:
    first = _draft(client, people)
    act(client, people, "citizen1", first, "submit")
    deliver(runtime)  # the worker has handled everything up to now
    assert {n.event for n in messages(runtime, str(first["number"]))} == {"received"}

    late = _draft(client, people)
    # The step's time is ten minutes before its transaction commits (a slow transaction, a clock
    # behind): reading the history by time after the worker has moved on would never see it.
    with clock_set_to(utcnow() - timedelta(minutes=10)):
        _submit_in_a_unit_of_work(runtime, people, late)
    deliver(runtime)

    rows = messages(runtime, str(late["number"]))
    assert {(n.event, n.channel) for n in rows} == {("received", "portal"), ("received", "sms")}
    with runtime.db.unit_of_work() as s:
        at = s.scalar(
            select(HistoryEntry.at).where(HistoryEntry.action == "submit", HistoryEntry.application_id == rows[0].application_id)
        )
    assert at is not None and all(n.created_at - at >= timedelta(minutes=9) for n in rows)
    deliver(runtime)  # a second pass writes nothing more: one message per step, person and channel
    assert len(messages(runtime, str(late["number"]))) == 2


def test_a_rolled_back_step_queues_nothing_and_tells_nobody(client: TestClient, people: People, runtime: Runtime) -> None:
    app = _draft(client, people)
    before = _step_jobs(runtime)
    with pytest.raises(RuntimeError, match="after the step"), runtime.db.unit_of_work() as s:
        principal = identity.load_principal(s, s.get(User, people.users["citizen1"].id), "bearer")  # type: ignore[arg-type]
        applications.act(s, principal, str(app["number"]), action="submit", comment=None, version=int(str(app["version"])))
        s.flush()
        assert s.scalar(select(func.count()).select_from(Job).where(Job.name == "notifications.step")) == before + 1
        raise RuntimeError("something failed after the step was written")
    assert _step_jobs(runtime) == before
    deliver(runtime)
    assert messages(runtime, str(app["number"])) == []
    assert fetch(client, people, "citizen1", str(app["number"]))["state"] == "draft"

    _submit_in_a_unit_of_work(runtime, people, app)  # the same step, committed this time, is told
    deliver(runtime)
    assert {n.event for n in messages(runtime, str(app["number"]))} == {"received"}


def test_a_step_that_tells_nobody_anything_queues_no_job(client: TestClient, people: People, runtime: Runtime) -> None:
    app = _draft(client, people)
    submitted = act(client, people, "citizen1", app, "submit")
    deliver(runtime)
    before = _step_jobs(runtime)
    forwarded = act(client, people, "a_section_clerk", submitted, "forward")
    assert forwarded["state"] != submitted["state"]
    assert _step_jobs(runtime) == before

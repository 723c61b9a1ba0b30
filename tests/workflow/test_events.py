"""The workflow announces each step as a domain event, inside the step's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.kit.errors import Problem
from nagara.runtime import Runtime
from nagara.worker.events import subscribe, subscribe_after_commit, unsubscribe
from nagara.worker.models import Job
from nagara.workflow import engine, events
from tests.applications.helpers import PDF, act, apply, birth_form, fetch, upload
from tests.conftest import People


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, session: Session, event: events.CaseEvent) -> None:
        self.seen.append((type(event).__name__, event.payload()))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    subscribe(events.CaseEvent, rec)  # every workflow event is a CaseEvent
    yield rec
    unsubscribe(rec)


def _submitted_birth(client: TestClient, people: People) -> dict[str, Any]:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    upload(client, people, "citizen1", draft["number"], "birth-report")
    upload(client, people, "citizen1", draft["number"], "parent-id", PDF)
    return act(client, people, "citizen1", fetch(client, people, "citizen1", draft["number"]), "submit")


def test_a_case_announces_each_step_in_order(client: TestClient, people: People, recorder: Recorder) -> None:
    app = _submitted_birth(client, people)
    assert recorder.names() == ["StateEntered", "StepRecorded", "Submitted"]
    assert recorder.seen[1][1]["action"] == "submit"

    recorder.seen.clear()
    app = act(client, people, "a_section_clerk", app, "return", "the parent's ID is unreadable")
    assert recorder.names() == ["Returned", "StepRecorded", "ActionTaken"]
    assert recorder.seen[2][1] | {"from": "scrutiny", "to": "returned", "role": "section_clerk"} == recorder.seen[2][1]

    recorder.seen.clear()
    app = act(client, people, "citizen1", app, "resubmit")
    app = act(client, people, "a_section_clerk", app, "forward")
    app = act(client, people, "a_secretary", app, "approve")
    assert app["state"] == "approved"
    assert recorder.names() == [
        *["Resubmitted", "StepRecorded", "ActionTaken"],
        *["StateEntered", "StepRecorded", "ActionTaken"],
        *["StateEntered", "Decided", "StepRecorded", "ActionTaken"],
    ]
    assert recorder.seen[-3][1]["outcome"] == "approved"
    assert "child_name" not in str(recorder.seen)  # payloads carry ids and codes, never the form


def test_a_withdrawal_is_a_decision(client: TestClient, people: People, recorder: Recorder) -> None:
    app = _submitted_birth(client, people)
    recorder.seen.clear()
    act(client, people, "citizen1", app, "withdraw")
    assert recorder.names() == ["StateEntered", "Withdrawn", "StepRecorded", "ActionTaken"]
    assert recorder.seen[1][1]["outcome"] == "withdrawn"


def test_a_handler_that_fails_undoes_the_step(client: TestClient, people: People) -> None:
    app = _submitted_birth(client, people)

    def refuse(session: Session, event: events.ActionTaken) -> None:
        raise Problem("a subscriber refused the step")

    subscribe(events.ActionTaken, refuse)
    try:
        response = client.post(
            f"/api/v1/applications/{app['number']}/actions",
            json={"action": "forward", "version": app["version"]},
            headers=people.headers("a_section_clerk"),
        )
    finally:
        unsubscribe(refuse)
    assert response.status_code == 400, response.text
    after = fetch(client, people, "a_section_clerk", app["number"])
    assert (after["state"], after["version"]) == ("scrutiny", app["version"])
    assert [h["action"] for h in after["history"]] == ["submit"]


def test_after_commit_handlers_go_through_the_outbox_and_only_on_commit(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    def later(session: Session, payload: dict[str, Any]) -> None:
        """Runs in a job of its own once the decision committed."""

    subscribe_after_commit(events.Decided, "tests.on_decided", later)

    def refuse(session: Session, event: events.Decided) -> None:
        raise Problem("refused")

    try:
        first = _submitted_birth(client, people)
        subscribe(events.Decided, refuse)
        refused = client.post(
            f"/api/v1/applications/{first['number']}/actions",
            json={"action": "withdraw", "version": first["version"]},
            headers=people.headers("citizen1"),
        )
        assert refused.status_code == 400
        unsubscribe(refuse)
        with runtime.db.unit_of_work() as session:
            assert list(session.scalars(select(Job).where(Job.name == "tests.on_decided"))) == []

        act(client, people, "citizen1", first, "withdraw")
        with runtime.db.unit_of_work() as session:
            (job,) = session.scalars(select(Job).where(Job.name == "tests.on_decided"))
            assert job.payload["event"] == "Withdrawn"
            assert (job.payload["number"], job.payload["outcome"]) == (first["number"], "withdrawn")
    finally:
        unsubscribe(refuse)
        unsubscribe(later)


def test_a_guard_no_domain_registered_is_refused_loudly() -> None:
    with pytest.raises(RuntimeError, match="no workflow guard named 'signed_by_mayor'"):
        engine._check_guards(None, None, ["signed_by_mayor"], None)  # type: ignore[arg-type]


def test_every_guard_and_effect_a_pack_may_name_is_registered() -> None:
    schema = json.loads((Path(engine.__file__).parent.parent / "tenancy" / "schemas" / "service.schema.json").read_text())
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("guards", "effects"):
                if isinstance(node.get(key), dict) and "enum" in node[key].get("items", {}):
                    found.setdefault(key, set()).update(node[key]["items"]["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert found["guards"] and found["effects"]
    assert found["guards"] <= set(engine.GUARDS), found["guards"] - set(engine.GUARDS)
    assert found["effects"] <= set(engine.EFFECTS), found["effects"] - set(engine.EFFECTS)

"""Refusals change nothing; time limits escalate; appeals go to the first, then the second authority."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.applications.models import Application
from nagara.applications.service import sweep_due
from nagara.kit.db import utcnow
from nagara.runtime import Runtime
from nagara.worker import registry
from nagara.worker.runner import Worker
from nagara.workflow.models import HistoryEntry
from tests.applications.helpers import PDF, PNG, act, apply, birth_form, fetch, upload
from tests.conftest import People, make_officer


def submitted_birth(client: TestClient, people: People) -> dict:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    upload(client, people, "citizen1", draft["number"], "birth-report")
    upload(client, people, "citizen1", draft["number"], "parent-id")
    return act(client, people, "citizen1", draft, "submit")


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.unit_of_work() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Application)) or 0),
            int(s.scalar(select(func.count()).select_from(HistoryEntry)) or 0),
        )


def test_an_invalid_form_lists_each_field_in_the_users_language(client: TestClient, people: People, runtime: Runtime) -> None:
    before = counts(runtime)
    response = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={
            "service": "birth-registration",
            "data": {"sex": "unknown", "date_of_birth": "yesterday", "surprise": 1},
            "submit": True,
        },
        headers={**people.headers("citizen1"), "Accept-Language": "ml"},
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e for e in response.json()["errors"]}
    assert errors[("body", "data", "sex")]["type"] == "enum"
    assert "തിരഞ്ഞെടുക്കുക" in errors[("body", "data", "sex")]["msg"]  # Malayalam: "choose one of"
    assert errors[("body", "data", "date_of_birth")]["type"] == "format"
    assert ("body", "data", "child_name") in errors
    assert ("body", "data", "surprise") in errors
    assert counts(runtime) == before


def test_refusals_say_why_and_change_nothing(client: TestClient, people: People, runtime: Runtime) -> None:
    app = submitted_birth(client, people)
    before = counts(runtime)
    wrong_role = act(client, people, "a_secretary", app, "forward", status=403)
    assert "section_clerk" in wrong_role["detail"]
    wrong_state = act(client, people, "a_secretary", app, "approve", status=409)
    assert wrong_state["current"]["state"] == "scrutiny"
    assert "you may:" in wrong_state["detail"]
    stale = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "forward", "version": app["version"] - 1},
        headers=people.headers("a_section_clerk"),
    )
    assert stale.status_code == 412
    assert stale.json()["current"] == {"version": app["version"], "state": "scrutiny"}
    no_comment = act(client, people, "a_section_clerk", app, "return", status=422)
    assert no_comment["errors"][0]["loc"] == ["body", "comment"]
    assert counts(runtime) == before
    assert fetch(client, people, "citizen1", app["number"])["version"] == app["version"]


def test_documents_are_checked_by_content_and_size(client: TestClient, people: People) -> None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", {}, submit=False)
    number = draft["number"]
    fake = upload(
        client, people, "citizen1", number, "parent-id", content=b"MZ\x90\x00 this is a program" * 10, name="id.pdf", status=422
    )
    assert "allowed: application/pdf, image/jpeg, image/png" in fake["errors"][0]["msg"]
    assert "'id.pdf'" in fake["errors"][0]["msg"]
    big = upload(client, people, "citizen1", number, "parent-id", content=PDF + b"0" * 2_100_000, status=422)
    assert "at most 2,097,152 bytes" in big["errors"][0]["msg"]
    unknown = upload(client, people, "citizen1", number, "selfie", status=422)
    assert "expected one of: birth-report, parent-id" in unknown["errors"][0]["msg"]
    ok = upload(client, people, "citizen1", number, "parent-id", content=PNG, name="scan.pdf", mime="application/pdf")
    assert ok["media_type"] == "image/png"  # what it is, not what it was called
    assert fetch(client, people, "citizen1", number)["documents"] == [ok]
    got = client.get(f"/api/v1/applications/{number}/documents/{ok['id']}", headers=people.headers("citizen1"))
    assert got.content == PNG


def test_return_for_correction_pauses_and_resumes(client: TestClient, people: People) -> None:
    app = submitted_birth(client, people)
    due_before = app["service_due_at"]
    app = act(client, people, "a_section_clerk", app, "return", comment="the mother's name is misspelt")
    assert app["state"] == "returned"
    assert app["assigned_role"] == "applicant"
    assert {a["code"] for a in fetch(client, people, "citizen1", app["number"])["actions"]} == {"resubmit", "withdraw"}
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "resubmit")
    assert app["state"] == "scrutiny"
    assert app["service_due_at"] >= due_before


def test_withdrawal_ends_it(client: TestClient, people: People) -> None:
    app = submitted_birth(client, people)
    app = act(client, people, "citizen1", app, "withdraw")
    assert app["outcome"] == "withdrawn"
    assert app["actions"] == []


def test_the_sweep_escalates_overdue_work_and_records_the_breach(client: TestClient, people: People, runtime: Runtime) -> None:
    app = submitted_birth(client, people)
    later = utcnow() + timedelta(days=30)
    with runtime.db.unit_of_work() as s:
        result = sweep_due(s, now=later)
    assert result["escalated"] >= 1
    assert result["service_breaches"] >= 1
    seen = fetch(client, people, "a_officer", app["number"])
    assert seen["assigned_role"] == "officer"
    assert seen["assigned_to"] == people.users["a_officer"].id
    assert seen["history"][-1]["action"] == "escalate"
    assert seen["history"][-1]["actor_role"] == "system"
    assert {b["kind"] for b in seen["breaches"]} == {"state", "service"}
    inbox = client.get("/api/v1/inbox", headers=people.headers("a_officer")).json()
    assert app["number"] in [a["number"] for a in inbox]
    with runtime.db.unit_of_work() as s:
        again = sweep_due(s, now=later)
    assert again == {"escalated": 0, "service_breaches": 0}  # recorded once


def test_the_sweep_runs_as_a_scheduled_job(runtime: Runtime) -> None:

    assert "workflow.sweep" in registry.SCHEDULES
    worker = Worker(runtime.db)
    worker.schedule_due()
    assert worker.run_until_idle() >= 1


def test_appeals_go_to_the_first_then_the_second_authority(client: TestClient, people: People) -> None:
    app = submitted_birth(client, people)
    app = act(client, people, "a_section_clerk", app, "forward")
    app = act(client, people, "a_secretary", app, "reject", comment="the birth was registered elsewhere")
    assert app["outcome"] == "rejected"
    mine = fetch(client, people, "citizen1", app["number"])
    assert [a["code"] for a in mine["actions"]] == ["appeal"]
    app = act(client, people, "citizen1", mine, "appeal", comment="it was not")
    assert app["state"] == "first_appeal"
    assert app["assigned_role"] == "appellate_authority"
    refused = act(client, people, "a_secretary", app, "dismiss_appeal", comment="x", status=403)
    assert "appellate_authority" in refused["detail"]
    app = fetch(client, people, "a_officer", app["number"])
    # the appellate authority of the body: nobody holds it in the fixture, so the pool holds it
    assert app["assigned_to"] is None


def test_a_second_appeal_can_send_it_back(client: TestClient, people: People, runtime: Runtime) -> None:

    with runtime.db.unit_of_work() as s:
        people.users["a_appellate"] = make_officer(s, "a.appellate", "appellate_authority", "kl", people.body_a)
    app = submitted_birth(client, people)
    app = act(client, people, "a_section_clerk", app, "forward")
    app = act(client, people, "a_secretary", app, "reject", comment="not proved")
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "appeal", comment="please look again")
    assert app["assigned_to"] == people.users["a_appellate"].id
    app = act(
        client, people, "a_appellate", fetch(client, people, "a_appellate", app["number"]), "dismiss_appeal", comment="upheld"
    )
    assert app["state"] == "appeal_dismissed"
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "appeal", comment="second appeal")
    assert app["state"] == "second_appeal"
    assert app["assigned_role"] == "state_admin"
    app = act(client, people, "kl_admin", fetch(client, people, "kl_admin", app["number"]), "allow_appeal", comment="register it")
    assert app["state"] == "approval"
    app = act(client, people, "a_secretary", fetch(client, people, "a_secretary", app["number"]), "approve")
    assert app["outcome"] == "approved"
    assert [h["action"] for h in app["history"]] == [
        "submit",
        "forward",
        "reject",
        "appeal",
        "dismiss_appeal",
        "appeal",
        "allow_appeal",
        "approve",
    ]


def test_an_operator_applies_for_a_citizen_with_their_consent(client: TestClient, people: People, runtime: Runtime) -> None:
    mobile = "9847055555"
    challenge = client.post(
        f"/api/v1/tenants/{people.body_a}/consent-codes",
        json={"service": "birth-registration", "mobile": mobile},
        headers=people.headers("a_operator"),
    ).json()
    Worker(runtime.db).run_until_idle()
    code = re.match(r"(\d+)", runtime.sms.sent[-1][1]).group(1)  # type: ignore[attr-defined, union-attr]
    response = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={
            "service": "birth-registration",
            "data": birth_form(),
            "submit": False,
            "on_behalf_of": {"mobile": mobile, "challenge_id": challenge["challenge_id"], "code": code},
        },
        headers=people.headers("a_operator"),
    )
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    elsewhere = client.post(
        f"/api/v1/tenants/{people.body_b}/applications",
        json={
            "service": "birth-registration",
            "data": {},
            "submit": False,
            "on_behalf_of": {"mobile": mobile, "challenge_id": challenge["challenge_id"], "code": code},
        },
        headers=people.headers("a_operator"),
    )
    assert elsewhere.status_code == 403  # an operator works for their own local body
    without_consent = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "birth-registration", "data": {}, "submit": False},
        headers=people.headers("a_operator"),
    )
    assert without_consent.status_code == 403
    with runtime.db.unit_of_work() as s:
        app = s.scalar(select(Application).where(Application.number == number))
        assert app is not None
        assert app.consent_at is not None
        assert app.filed_by_id == people.users["a_operator"].id
        assert app.applicant_id != people.users["a_operator"].id


def test_inbox_orders_by_due_time_and_filters(client: TestClient, people: People, runtime: Runtime) -> None:
    first = submitted_birth(client, people)
    second = submitted_birth(client, people)
    with runtime.db.unit_of_work() as s:
        row = s.scalar(select(Application).where(Application.number == second["number"]))
        assert row is not None
        row.state_due_at = utcnow() - timedelta(hours=1)  # overdue
    inbox = client.get("/api/v1/inbox", headers=people.headers("a_section_clerk")).json()
    assert [a["number"] for a in inbox][:2] == [second["number"], first["number"]]
    assert inbox[0]["overdue"] is True
    overdue = client.get("/api/v1/inbox", params={"overdue": "true"}, headers=people.headers("a_section_clerk")).json()
    assert [a["number"] for a in overdue] == [second["number"]]
    other = client.get(
        "/api/v1/inbox", params={"service": "death-registration"}, headers=people.headers("a_section_clerk")
    ).json()
    assert other == []
    mine = client.get("/api/v1/applications", headers=people.headers("citizen1")).json()
    assert {a["number"] for a in mine} >= {first["number"], second["number"]}
    assert client.get("/api/v1/applications", headers=people.headers("citizen2")).json() == []


def test_appeals_respect_the_packs_time_limits(client: TestClient, people: People, runtime: Runtime) -> None:
    app = submitted_birth(client, people)
    app = act(client, people, "a_section_clerk", app, "forward")
    app = act(client, people, "a_secretary", app, "reject", comment="not proved")
    with runtime.db.unit_of_work() as s:
        row = s.scalar(select(Application).where(Application.number == app["number"]))
        assert row is not None
        row.decided_at = utcnow() - timedelta(days=31)  # the first appeal must come within 30 days
    late = fetch(client, people, "citizen1", app["number"])
    assert late["actions"] == []
    refused = act(client, people, "citizen1", late, "appeal", comment="too late?", status=409)
    assert "cannot be taken" in refused["detail"]


def test_an_overdue_application_may_be_appealed(client: TestClient, people: People, runtime: Runtime) -> None:
    app = submitted_birth(client, people)
    assert "appeal" not in [a["code"] for a in fetch(client, people, "citizen1", app["number"])["actions"]]
    with runtime.db.unit_of_work() as s:
        row = s.scalar(select(Application).where(Application.number == app["number"]))
        assert row is not None
        row.service_due_at = utcnow() - timedelta(days=1)
    overdue = fetch(client, people, "citizen1", app["number"])
    assert "appeal" in [a["code"] for a in overdue["actions"]]
    appealed = act(client, people, "citizen1", overdue, "appeal", comment="no decision in time")
    assert appealed["state"] == "first_appeal"

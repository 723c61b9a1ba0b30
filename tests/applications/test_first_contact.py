"""What a newcomer to the API meets first: creating an application, and naming an action wrongly."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.conftest import People


def test_creating_without_saying_submit_keeps_a_draft_that_lists_the_documents_it_needs(
    client: TestClient, people: People
) -> None:
    created = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "birth-registration", "data": birth_form()},
        headers=people.headers("citizen1"),
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["state"] == "draft"
    assert draft["submitted_at"] is None
    assert sorted(draft["documents_missing"]) == ["birth-report", "parent-id"]
    upload(client, people, "citizen1", draft["number"], "birth-report")
    assert fetch(client, people, "citizen1", draft["number"])["documents_missing"] == ["parent-id"]
    upload(client, people, "citizen1", draft["number"], "parent-id")
    app = fetch(client, people, "citizen1", draft["number"])
    assert app["documents_missing"] == []
    assert act(client, people, "citizen1", app, "submit")["state"] == "scrutiny"


def test_asking_to_submit_at_once_still_names_each_missing_document(client: TestClient, people: People) -> None:
    refused = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "birth-registration", "data": birth_form(), "submit": True},
        headers=people.headers("citizen1"),
    )
    assert refused.status_code == 422
    assert {tuple(e["loc"]) for e in refused.json()["errors"]} == {
        ("body", "documents", "birth-report"),
        ("body", "documents", "parent-id"),
    }


def test_an_unknown_action_is_a_422_naming_the_field_and_the_allowed_actions(client: TestClient, people: People) -> None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    upload(client, people, "citizen1", draft["number"], "birth-report")
    upload(client, people, "citizen1", draft["number"], "parent-id")
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", draft["number"]), "submit")
    clerk = fetch(client, people, "a_section_clerk", app["number"])
    response = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "aprove", "version": clerk["version"]},
        headers=people.headers("a_section_clerk"),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "action"]
    assert "'aprove' is not an action of birth-registration" in error["msg"]
    assert set(error["allowed"]) == {a["code"] for a in clerk["actions"]}
    assert "forward" in error["allowed"]
    # An action the service has, but not in this state, is still a conflict with the state.
    too_early = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "approve", "version": clerk["version"]},
        headers=people.headers("a_section_clerk"),
    )
    assert too_early.status_code == 409, too_early.text

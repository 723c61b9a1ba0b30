"""A citizen registers a birth at Thiruvananthapuram and officers carry it to the end."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.applications.helpers import PDF, act, apply, birth_form, fetch, upload
from tests.conftest import People


def test_from_draft_to_registered(client: TestClient, people: People) -> None:
    body = people.body_a
    draft = apply(client, people, "citizen1", body, "birth-registration", {"child_name": "Anna"}, submit=False)
    assert draft["state"] == "draft"
    number = draft["number"]
    assert number.startswith("KL-") and "-BR-" in number
    assert [a["code"] for a in draft["actions"]] == ["submit"]
    refused = client.post(
        f"/api/v1/applications/{number}/actions",
        json={"action": "submit", "version": draft["version"]},
        headers=people.headers("citizen1"),
    )
    assert refused.status_code == 422  # the form is incomplete
    patched = client.patch(
        f"/api/v1/applications/{number}",
        json={"data": birth_form(), "version": draft["version"]},
        headers=people.headers("citizen1"),
    )
    assert patched.status_code == 200, patched.text
    missing_docs = client.post(
        f"/api/v1/applications/{number}/actions",
        json={"action": "submit", "version": patched.json()["version"]},
        headers=people.headers("citizen1"),
    )
    assert missing_docs.status_code == 422
    assert {tuple(e["loc"]) for e in missing_docs.json()["errors"]} == {
        ("body", "documents", "birth-report"),
        ("body", "documents", "parent-id"),
    }
    upload(client, people, "citizen1", number, "birth-report")
    upload(client, people, "citizen1", number, "parent-id", PDF)
    app = fetch(client, people, "citizen1", number)
    app = act(client, people, "citizen1", app, "submit")
    assert app["state"] == "scrutiny"
    assert app["assigned_role"] == "section_clerk"
    assert app["assigned_to"] == people.users["a_section_clerk"].id  # the only clerk there: least loaded
    assert app["fee_total"] == 0
    assert app["service_due_at"] > app["state_due_at"]

    inbox = client.get("/api/v1/inbox", headers=people.headers("a_section_clerk")).json()
    assert [a["number"] for a in inbox] == [number]
    assert client.get("/api/v1/inbox", headers=people.headers("b_section_clerk")).json() == []

    clerk_view = fetch(client, people, "a_section_clerk", number)
    assert {a["code"] for a in clerk_view["actions"]} >= {"forward", "return"}
    app = act(client, people, "a_section_clerk", clerk_view, "forward")
    assert app["state"] == "approval"
    assert all(d["verified_at"] for d in app["documents"])
    app = act(client, people, "a_secretary", app, "approve")
    assert app["state"] == "approved"
    assert app["outcome"] == "approved"
    assert not app["is_open"]
    mine = fetch(client, people, "citizen1", number)
    assert [h["action"] for h in mine["history"]] == ["submit", "forward", "approve"]
    assert [h["actor_role"] for h in mine["history"]] == ["applicant", "section_clerk", "secretary"]
    assert mine["actions"] == []

"""Returned for correction: the office names what to correct; the applicant changes exactly that, and resubmits."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.audit.models import AuditEvent
from nagara.ledger.models import LogTile, PendingEntry
from nagara.runtime import Runtime
from nagara.worker.models import Job
from tests.applications.helpers import PDF, PNG, act, apply, birth_form, fetch, upload
from tests.applications.test_access_now import _refused, _revoke_only_role
from tests.applications.test_assisted import apply_for, consent_code
from tests.conftest import People
from tests.officer.helpers import sign_in


def submitted(client: TestClient, people: People, who: str = "citizen1", draft: dict[str, Any] | None = None) -> dict[str, Any]:
    draft = draft or apply(client, people, who, people.body_a, "birth-registration", birth_form(), submit=False)
    upload(client, people, who, draft["number"], "birth-report")
    upload(client, people, who, draft["number"], "parent-id")
    return act(client, people, who, fetch(client, people, who, draft["number"]), "submit")


def send_back(client: TestClient, people: People, app: dict[str, Any], correct: dict[str, Any] | None, status: int = 200) -> Any:
    response = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "return", "version": app["version"], "comment": "the mother's name is misspelt", "correct": correct},
        headers=people.headers("a_section_clerk"),
    )
    assert response.status_code == status, response.text
    return response.json()


def patch(client: TestClient, people: People, who: str, app: dict[str, Any], data: dict[str, Any], status: int = 200) -> Any:
    response = client.patch(
        f"/api/v1/applications/{app['number']}", json={"data": data, "version": app["version"]}, headers=people.headers(who)
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert response.headers["ETag"] == f'"{response.json()["version"]}"'
    return response.json()


def test_the_applicant_corrects_the_named_field_and_document_and_resubmits(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    app = submitted(client, people)
    old_report = next(d for d in app["documents"] if d["doc_type"] == "birth-report")
    app = send_back(client, people, app, {"fields": ["mother_name"], "documents": ["birth-report"]})
    assert app["state"] == "returned"
    seen = fetch(client, people, "citizen1", app["number"])
    assert seen["correction"]["fields"] == ["mother_name"]
    assert seen["correction"]["documents"] == ["birth-report"]
    assert seen["correction"]["reason"] == "the mother's name is misspelt"
    assert seen["history"][-1]["data"] == {"correct": {"fields": ["mother_name"], "documents": ["birth-report"]}}

    changed = patch(client, people, "citizen1", seen, {**seen["data"], "mother_name": "Maria"})
    assert changed["data"]["mother_name"] == "Maria"
    assert changed["version"] == seen["version"] + 1
    step = changed["history"][-1]
    assert step["action"] == "form_corrected"
    assert set(step["data"]["fields"]) == {"mother_name"}
    hashes = step["data"]["fields"]["mother_name"]
    assert hashes["old"] and hashes["new"] and hashes["old"] != hashes["new"]
    assert "Maria" not in json.dumps(step) and "Mary" not in json.dumps(step)

    new_report = upload(
        client, people, "citizen1", app["number"], "birth-report", content=PNG, name="report.png", mime="image/png"
    )
    after = fetch(client, people, "citizen1", app["number"])
    reports = [d for d in after["documents"] if d["doc_type"] == "birth-report"]
    assert reports == [new_report]  # replaced, not added beside the old one
    step = after["history"][-1]
    assert step["action"] == "document_replaced"
    assert step["data"]["old"] == [
        {"id": old_report["id"], "sha256": old_report["sha256"], "size": old_report["size"], "media_type": "application/pdf"}
    ]
    assert step["data"]["new"]["id"] == new_report["id"]
    assert after["version"] == changed["version"] + 1
    gone = client.get(f"/api/v1/applications/{app['number']}/documents/{old_report['id']}", headers=people.headers("citizen1"))
    assert gone.status_code == 404
    with runtime.db.unit_of_work(readonly=True) as s:
        jobs = list(s.scalars(select(Job).where(Job.name == "applications.delete_file")))
        assert [j.payload["storage_key"] for j in jobs] == [f"{people.body_a}/{app['number']}/{old_report['id']}"]
        # neither the audit log nor the ledger holds the values
        audit = [json.dumps([e.data, e.changes], ensure_ascii=False) for e in s.scalars(select(AuditEvent))]
        assert audit and not [a for a in audit if "Maria" in a]
        ledger = [*s.scalars(select(PendingEntry.body)), *s.scalars(select(LogTile.data))]
        assert ledger and not [b for b in ledger if b"Maria" in b]

    back = act(client, people, "citizen1", after, "resubmit")
    assert back["state"] == "scrutiny"
    assert back["correction"] is None
    assert fetch(client, people, "a_section_clerk", app["number"])["data"]["mother_name"] == "Maria"


def test_a_field_not_asked_for_is_refused_and_nothing_changes(client: TestClient, people: People) -> None:
    app = send_back(client, people, submitted(client, people), {"fields": ["mother_name"], "documents": []})
    seen = fetch(client, people, "citizen1", app["number"])
    refused = patch(client, people, "citizen1", seen, {**seen["data"], "mother_name": "Maria", "child_name": "Ann"}, status=422)
    assert [e["loc"] for e in refused["errors"]] == [["body", "data", "child_name"]]
    assert "'child_name' was not asked to be corrected" in refused["errors"][0]["msg"]
    assert "mother_name" in refused["errors"][0]["msg"]
    dropped = {k: v for k, v in seen["data"].items() if k != "hospital_name"}
    assert patch(client, people, "citizen1", seen, dropped, status=422)["errors"][0]["loc"] == ["body", "data", "hospital_name"]
    doc = upload(client, people, "citizen1", app["number"], "parent-id", status=422)
    assert doc["errors"][0]["loc"] == ["body", "type"]
    after = fetch(client, people, "citizen1", app["number"])
    assert after["version"] == seen["version"]
    assert after["data"] == seen["data"]
    # an officer may not change the form, and a stale version is refused
    patch(client, people, "a_section_clerk", seen, {**seen["data"], "mother_name": "Maria"}, status=403)
    stale = client.patch(
        f"/api/v1/applications/{app['number']}",
        json={"data": {**seen["data"], "mother_name": "Maria"}, "version": seen["version"] - 1},
        headers=people.headers("citizen1"),
    )
    assert stale.status_code == 412


def test_the_return_names_only_what_the_service_has(client: TestClient, people: People) -> None:
    app = submitted(client, people)
    bad = send_back(client, people, app, {"fields": ["mother_name", "shoe_size"], "documents": ["selfie"]}, status=422)
    assert {tuple(e["loc"]) for e in bad["errors"]} == {("body", "correct", "fields", 1), ("body", "correct", "documents", 0)}
    empty = send_back(client, people, app, {"fields": [], "documents": []}, status=422)
    assert empty["errors"][0]["loc"] == ["body", "correct"]
    forward = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "forward", "version": app["version"], "correct": {"fields": ["mother_name"]}},
        headers=people.headers("a_section_clerk"),
    )
    assert forward.status_code == 422
    assert forward.json()["errors"][0]["loc"] == ["body", "correct"]
    # named nothing: everything may be corrected
    returned = send_back(client, people, app, None)
    seen = fetch(client, people, "citizen1", returned["number"])
    assert "child_name" in seen["correction"]["fields"]
    assert seen["correction"]["documents"] == ["birth-report", "parent-id"]


def test_only_drafts_and_returned_applications_change(client: TestClient, people: People) -> None:
    app = submitted(client, people)
    refused = patch(client, people, "citizen1", app, {**app["data"], "mother_name": "Maria"}, status=409)
    assert "returned for correction" in refused["detail"]
    doc = app["documents"][0]
    gone = client.delete(
        f"/api/v1/applications/{app['number']}/documents/{doc['id']}?version={app['version']}", headers=people.headers("citizen1")
    )
    assert gone.status_code == 409


def test_removing_a_document(client: TestClient, people: People) -> None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    doc = upload(client, people, "citizen1", draft["number"], "parent-id")
    again = upload(client, people, "citizen1", draft["number"], "parent-id", content=PNG, name="id.png", mime="image/png")
    draft = fetch(client, people, "citizen1", draft["number"])
    assert draft["documents"] == [again]  # a draft's re-upload replaces too
    url = f"/api/v1/applications/{draft['number']}/documents/{again['id']}"
    assert client.delete(url, headers=people.headers("citizen1")).status_code == 422  # which version?
    assert client.delete(f"{url}?version={draft['version'] - 1}", headers=people.headers("citizen1")).status_code == 412
    assert client.delete(f"{url}?version={draft['version']}", headers=people.headers("citizen2")).status_code == 404
    removed = client.delete(url, headers={**people.headers("citizen1"), "If-Match": f'"{draft["version"]}"'})
    assert removed.status_code == 200, removed.text
    assert removed.json()["documents"] == []
    assert doc["id"] != again["id"]

    app = submitted(client, people)
    report = next(d for d in app["documents"] if d["doc_type"] == "birth-report")
    parent = next(d for d in app["documents"] if d["doc_type"] == "parent-id")
    app = fetch(client, people, "citizen1", send_back(client, people, app, {"documents": ["birth-report"]})["number"])
    base = f"/api/v1/applications/{app['number']}/documents"
    not_named = client.delete(f"{base}/{parent['id']}?version={app['version']}", headers=people.headers("citizen1"))
    assert not_named.status_code == 422
    assert not_named.json()["errors"][0]["loc"] == ["path", "doc_id"]
    removed = client.delete(f"{base}/{report['id']}?version={app['version']}", headers=people.headers("citizen1"))
    assert removed.status_code == 200, removed.text
    after = removed.json()
    assert [d["doc_type"] for d in after["documents"]] == ["parent-id"]
    assert after["history"][-1]["action"] == "document_removed"
    assert after["history"][-1]["data"]["old"][0]["sha256"] == report["sha256"]
    assert after["version"] == app["version"] + 1
    # resubmitting checks the whole application again: the birth report is required
    missing = act(client, people, "citizen1", after, "resubmit", status=422)
    assert missing["errors"][0]["loc"] == ["body", "documents", "birth-report"]
    upload(client, people, "citizen1", app["number"], "birth-report", content=PDF)
    assert act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "resubmit")["state"] == "scrutiny"


def test_resubmission_validates_the_whole_form(client: TestClient, people: People) -> None:
    app = send_back(client, people, submitted(client, people), {"fields": ["hospital_name"]})
    seen = fetch(client, people, "citizen1", app["number"])
    emptied = patch(client, people, "citizen1", seen, {k: v for k, v in seen["data"].items() if k != "hospital_name"})
    invalid = act(client, people, "citizen1", emptied, "resubmit", status=422)
    assert ["body", "data", "hospital_name"] in [e["loc"] for e in invalid["errors"]]
    assert fetch(client, people, "citizen1", app["number"])["state"] == "returned"
    # withdrawing needs no complete form
    assert act(client, people, "citizen1", emptied, "withdraw")["outcome"] == "withdrawn"


def test_the_assisting_operator_corrects_while_they_assist(client: TestClient, people: People, runtime: Runtime) -> None:
    challenge, code = consent_code(client, people, runtime)
    draft = apply_for(client, people, "a_operator", challenge, code)
    assert draft.status_code == 201, draft.text
    app = send_back(client, people, submitted(client, people, "a_operator", draft.json()), {"fields": ["mother_name"]})
    seen = fetch(client, people, "a_operator", app["number"])
    changed = patch(client, people, "a_operator", seen, {**seen["data"], "mother_name": "Maria"})
    assert changed["data"]["mother_name"] == "Maria"
    report = next(d for d in changed["documents"] if d["doc_type"] == "birth-report")
    # access comes from the roles held now: once the assisting role is revoked, no more corrections
    _revoke_only_role(client, people, runtime, "a_operator")
    assert _refused(
        client.patch(
            f"/api/v1/applications/{app['number']}",
            json={"data": {**seen["data"], "mother_name": "Marie"}, "version": changed["version"]},
            headers=people.headers("a_operator"),
        )
    )
    assert _refused(
        client.delete(
            f"/api/v1/applications/{app['number']}/documents/{report['id']}?version={changed['version']}",
            headers=people.headers("a_operator"),
        )
    )
    assert fetch(client, people, "a_section_clerk", app["number"])["data"]["mother_name"] == "Maria"


def test_the_officer_names_what_to_correct_on_the_workbench(client: TestClient, people: People) -> None:
    app = submitted(client, people)
    token = sign_in(client, people, "a_section_clerk")
    page = client.get(f"/officer/applications/{app['number']}").text
    assert 'name="correct-field-return" value="mother_name"' in page
    assert 'name="correct-document-return" value="birth-report"' in page
    assert "correct-field-forward" not in page  # only the action that hands it back names corrections
    sent = client.post(
        f"/officer/applications/{app['number']}/act",
        data={
            "csrf_token": token,
            "do": "return",
            "version": str(app["version"]),
            "comment-return": "the mother's name is misspelt",
            "correct-field-return": ["mother_name", "father_name"],
            "correct-document-return": "parent-id",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    client.cookies.clear()
    seen = fetch(client, people, "citizen1", app["number"])
    assert seen["correction"]["fields"] == ["mother_name", "father_name"]
    assert seen["correction"]["documents"] == ["parent-id"]
    # the history names what changed on the workbench, never the values
    patch(client, people, "citizen1", seen, {**seen["data"], "mother_name": "Maria"})
    sign_in(client, people, "a_section_clerk")
    page = client.get(f"/officer/applications/{app['number']}").text
    assert "Details corrected" in page
    assert "Maria" in page  # the form shows the corrected answer
    assert page.count("Maria") == 1

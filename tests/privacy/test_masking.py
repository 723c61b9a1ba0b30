"""Officers see mobile and identity numbers masked; seeing one takes a reason, which is logged."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.audit import access
from nagara.audit.models import AccessLogEntry
from tests.applications.test_workbench import submitted
from tests.conftest import People
from tests.officer.helpers import csrf_of, sign_in

MOBILE = "9847000001"  # citizen1's


def reveals(people: People) -> list[AccessLogEntry]:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "reveal")))


def test_the_mask_keeps_the_last_four() -> None:
    assert access.mask("+919847000001") == "•••••••••0001"
    assert access.mask("123456") == "••••••"
    assert access.is_masked_field("mobile") and access.is_masked_field("father_mobile")
    assert access.is_masked_field("aadhaar") and access.is_masked_field("owner_id_number")
    assert not access.is_masked_field("mobile_tower") and not access.is_masked_field("child_name")


def test_the_officer_sees_the_mobile_masked_and_reveals_it_with_a_reason(client: TestClient, people: People) -> None:
    number = submitted(client, people)["number"]
    sign_in(client, people, "a_section_clerk")
    page = client.get(f"/officer/applications/{number}")
    assert page.status_code == 200
    assert MOBILE not in page.text
    assert "•••••••••0001" in page.text
    csrf = csrf_of(page.text)
    url = f"/officer/applications/{number}/reveal"

    too_short = client.post(url, data={"csrf_token": csrf, "item": "applicant-mobile", "reason-applicant-mobile": "call"})
    assert too_short.status_code == 422
    assert MOBILE not in too_short.text
    assert 'href="#f-reason-applicant-mobile"' in too_short.text
    assert reveals(people) == []

    unknown = client.post(url, data={"csrf_token": csrf, "item": "field-child_name", "reason-field-child_name": "x" * 20})
    assert unknown.status_code == 404  # only masked items can be revealed
    assert reveals(people) == []

    reason = "To call the mother about the hospital's report"
    shown = client.post(url, data={"csrf_token": csrf, "item": "applicant-mobile", "reason-applicant-mobile": reason})
    assert shown.status_code == 200
    assert "+91" + MOBILE in shown.text
    assert shown.headers["cache-control"] == "private, no-store"
    (entry,) = reveals(people)
    assert (entry.reason, entry.role, entry.record_ref) == (reason, "section_clerk", f"{number}#applicant-mobile")
    assert entry.viewer_id == people.users["a_section_clerk"].id

    again = client.get(f"/officer/applications/{number}")
    assert MOBILE not in again.text  # a reveal shows it once, in the answer to the request

    log = client.get("/api/v1/me/access-log", headers=people.headers("citizen1")).json()
    assert [(e["action"], e["reason"]) for e in log if e["action"] == "reveal"] == [("reveal", reason)]


def test_a_reveal_needs_the_csrf_token(client: TestClient, people: People) -> None:
    number = submitted(client, people)["number"]
    sign_in(client, people, "a_section_clerk")
    data = {"item": "applicant-mobile", "reason-applicant-mobile": "To call the applicant about it"}
    response = client.post(f"/officer/applications/{number}/reveal", data=data)
    assert response.status_code == 403
    assert reveals(people) == []


def test_an_officer_of_another_body_cannot_reveal(client: TestClient, people: People) -> None:
    number = submitted(client, people)["number"]
    sign_in(client, people, "b_section_clerk")
    page = client.get("/officer")
    data = {"csrf_token": csrf_of(page.text), "item": "applicant-mobile", "reason-applicant-mobile": "To call the applicant"}
    response = client.post(f"/officer/applications/{number}/reveal", data=data)
    assert response.status_code == 404
    assert MOBILE not in response.text and not re.search(r"\+91\d{10}", response.text)
    assert reveals(people) == []

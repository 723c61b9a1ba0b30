"""Who looked at my data: every read of a citizen's personal data by someone else is logged, the
citizen sees the role, body and purpose (never the officer), and no route that returns personal
data forgets to log (the route table below names every GET route of the app)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.app import API_ROUTERS, VIEW_ROUTERS
from nagara.audit.models import AccessLogEntry
from nagara.runtime import Runtime
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.applications.test_assisted import apply_for, consent_code
from tests.certificates.helpers import approved_birth
from tests.conftest import People
from tests.officer.helpers import sign_in

# Every GET route that returns a citizen's personal data: how to reach it for one application.
PERSONAL: dict[str, str] = {
    "/api/v1/applications/{number}": "/api/v1/applications/{number}",
    "/api/v1/applications/{number}/fees": "/api/v1/applications/{draft}/fees",  # a draft's preview
    "/api/v1/applications/{number}/documents/{doc_id}": "/api/v1/applications/{number}/documents/{doc_id}",
    "/api/v1/applications/{number}/certificate": "/api/v1/applications/{number}/certificate",
    "/api/v1/applications/{number}/certificate.pdf": "/api/v1/applications/{number}/certificate.pdf",
    "/api/v1/applications/{number}/certificate/credential": "/api/v1/applications/{number}/certificate/credential",
    "/applications/{number}": "/applications/{number}",
    "/applications/{number}/edit": "/applications/{assisted}/edit",  # the operator's assisted draft
    "/applications/{number}/documents": "/applications/{assisted}/documents",  # the operator's assisted draft
    "/applications/{number}/review": "/applications/{assisted}/review",  # the operator's assisted draft
    "/applications/{number}/correct": "/applications/{assisted}/correct",  # the operator's assisted draft
    "/applications/{number}/acknowledgement": "/applications/{number}/acknowledgement",
    "/applications/{number}/acknowledgement.pdf": "/applications/{number}/acknowledgement.pdf",
    "/officer/applications/{number}": "/officer/applications/{number}",
    "/officer/applications/{number}/documents/{doc_id}": "/officer/applications/{number}/documents/{doc_id}",
}


def get_routes() -> set[str]:
    return {
        route.path
        for router in (*API_ROUTERS, *VIEW_ROUTERS)
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    }


def test_the_personal_routes_are_routes() -> None:
    stale = set(PERSONAL) - get_routes()
    assert not stale, f"no longer routes: {sorted(stale)}"


MARKER = "Quilliamina"  # a name no page prints unless it shows this application's form


def _fillings(path: str, values: dict[str, list[str]]) -> list[str]:
    urls = [path]
    for name in re.findall(r"{(\w+)}", path):
        urls = [url.replace("{" + name + "}", v, 1) for url in urls for v in values.get(name, ["x"])]
    return urls


def test_no_get_route_shows_personal_data_without_logging_it(client: TestClient, people: People) -> None:
    """Every GET route of the app, new ones included, called by an officer of the body with every
    value its path could take here: whichever shows the applicant's form data must log the read."""
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(mother_name=MARKER), submit=False)
    number = draft["number"]
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", number, code)
    act(client, people, "citizen1", fetch(client, people, "citizen1", number), "submit")
    doc_id = fetch(client, people, "citizen1", number)["documents"][0]["id"]
    values = {
        "number": [number],
        "doc_id": [doc_id],
        "tenant": [people.body_a, "kl"],
        "code": [people.body_a, "birth-registration"],
        "state": ["kl"],
        "user_id": [people.users["citizen1"].id],
    }
    headers = people.headers("a_secretary")
    sign_in(client, people, "a_secretary")
    shown = []
    for path in sorted(get_routes()):
        for url in _fillings(path, values):
            before = count(people)
            response = client.get(url, headers=headers, follow_redirects=False)
            if MARKER in response.text:
                shown.append(path)
                assert count(people) > before, f"{url} showed the applicant's form data and logged no read"
    assert "/officer/applications/{number}" in shown and "/api/v1/applications/{number}" in shown  # the sweep sees


def entries(people: People, subject: str) -> list[AccessLogEntry]:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_id == subject).order_by(AccessLogEntry.at)))


def count(people: People, subject: str | None = None) -> int:
    query = select(func.count()).select_from(AccessLogEntry)
    if subject is not None:
        query = query.where(AccessLogEntry.subject_id == subject)
    with people.runtime.db.unit_of_work(readonly=True) as s:
        return int(s.scalar(query) or 0)


def test_every_route_that_returns_personal_data_logs_the_read(client: TestClient, people: People, runtime: Runtime) -> None:
    """An officer reads an approved application (and a draft's fee preview); the operator who filed a
    citizen's draft opens the pages only an applicant's side sees. Each route must log the read."""
    number = approved_birth(client, people)["number"]
    doc_id = fetch(client, people, "citizen1", number)["documents"][0]["id"]
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    challenge, code = consent_code(client, people, runtime)
    assisted = apply_for(client, people, "a_operator", challenge, code)
    assert assisted.status_code == 201, assisted.text
    values = {"number": number, "doc_id": doc_id, "draft": draft, "assisted": assisted.json()["number"]}
    for path, template in PERSONAL.items():
        who = "a_operator" if "{assisted}" in template else "a_secretary"
        client.cookies.clear()
        sign_in(client, people, who)
        url = template.format(**values)
        before = count(people)
        api = path.startswith("/api/")
        response = client.get(url, headers=people.headers(who) if api else {}, follow_redirects=False)
        assert response.status_code < 500, (url, response.status_code)
        assert count(people) > before, f"{url} answered {response.status_code} and logged no read"


def test_the_citizen_sees_that_the_section_clerk_read_their_application(client: TestClient, people: People) -> None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    number = draft["number"]
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", number, code)
    act(client, people, "citizen1", fetch(client, people, "citizen1", number), "submit")
    subject = people.users["citizen1"].id
    assert count(people, subject) == 0, "the citizen's own reads and writes are not logged"

    sign_in(client, people, "a_section_clerk")
    page = client.get(f"/officer/applications/{number}")
    assert page.status_code == 200
    assert "Mary" in page.text  # the form's data was shown
    (entry,) = entries(people, subject)
    assert (entry.role, entry.local_body_code, entry.purpose, entry.record_ref) == (
        "section_clerk",
        people.body_a,
        "birth-registration",
        number,
    )
    assert entry.viewer_id == people.users["a_section_clerk"].id

    seen = client.get("/api/v1/me/access-log", headers=people.headers("citizen1"))
    assert seen.status_code == 200
    (row,) = seen.json()
    assert row["role"] == "section_clerk"
    assert row["local_body"] == people.body_a
    assert row["purpose"] == "birth-registration"
    assert row["record"] == number
    assert row["purpose_name"]["en"] == "Birth registration"
    officer = people.users["a_section_clerk"]
    username = officer.username or ""
    assert username and officer.id not in seen.text and username not in seen.text and username.title() not in seen.text

    client.cookies.clear()
    sign_in(client, people, "citizen1")
    html = client.get("/my/data/access").text
    assert number in html
    assert username not in html and username.title() not in html


def test_an_officer_of_another_body_reads_nothing_and_nothing_is_logged(client: TestClient, people: People) -> None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    subject = people.users["citizen1"].id
    response = client.get(f"/api/v1/applications/{draft['number']}", headers=people.headers("b_secretary"))
    assert response.status_code == 404
    assert count(people, subject) == 0


def test_a_failed_read_logs_nothing(client: TestClient, people: People) -> None:
    """The entry is written only after the read committed: a refusal after the read keeps nothing."""
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    subject = people.users["citizen1"].id
    # a draft has no fee fixed at submission, but a submitted one refuses a preview after reading it
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", draft["number"], code)
    act(client, people, "citizen1", fetch(client, people, "citizen1", draft["number"]), "submit")
    response = client.get(f"/api/v1/applications/{draft['number']}/fees", headers=people.headers("a_section_clerk"))
    assert response.status_code == 409
    assert count(people, subject) == 0


def test_one_request_logs_a_record_once(client: TestClient, people: People) -> None:
    draft: dict[str, Any] = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    subject = people.users["citizen1"].id
    client.get(f"/api/v1/applications/{draft['number']}", headers=people.headers("a_section_clerk"))
    assert count(people, subject) == 1


@pytest.mark.parametrize("lang", ["en", "ml", "kn", "hi", "ur"])
def test_the_access_page_in_every_language(client: TestClient, people: People, lang: str) -> None:
    sign_in(client, people, "citizen1")
    response = client.get("/my/data/access", headers={"Accept-Language": lang})
    assert response.status_code == 200
    assert f'lang="{lang}"' in response.text

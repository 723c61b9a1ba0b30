"""Who looked at my data: every read of a citizen's personal data by someone else is logged, the
citizen sees the role, body and purpose (never the officer), and no route that returns personal
data forgets to log (the route table below names every GET route of the app)."""

from __future__ import annotations

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

# Every other GET route, with why it returns no citizen's personal data to someone else.
NOT_PERSONAL: dict[str, str] = {
    "/api/v1/me": "one's own account",
    "/api/v1/me/tokens": "one's own credentials",
    "/api/v1/me/access-log": "one's own access log",
    "/my/profile": "one's own profile",
    "/my/applications": "one's own applications",
    "/my/data.json": "one's own data",
    "/my/data/access": "one's own access log",
    "/api/v1/users": "officers and partners only: citizens are never listed",
    "/api/v1/users/{user_id}": "oneself, or officers (citizens are refused)",
    "/api/v1/users/{user_id}/tokens": "credentials' ids and dates, no personal data",
    "/api/v1/states": "public places",
    "/api/v1/states/{state}": "public places",
    "/api/v1/states/{state}/districts": "public places",
    "/api/v1/states/{state}/local-bodies": "public places",
    "/api/v1/local-bodies/{code}": "public places",
    "/api/v1/local-bodies/{code}/wards": "public places",
    "/api/v1/local-bodies/{code}/settings": "a body's settings",
    "/api/v1/local-bodies/{code}/working-days": "the calendar",
    "/api/v1/states/{state}/pack-status": "the pack",
    "/api/v1/audit-events": "audit data holds field names and ids, never values",
    "/api/v1/audit-events/{event_id}": "audit data holds field names and ids, never values",
    "/api/v1/tenants": "the catalog",
    "/api/v1/tenants/{tenant}/services": "the catalog",
    "/api/v1/tenants/{tenant}/services/{code}": "the catalog",
    "/api/v1/local-bodies/{code}/service-settings": "the catalog",
    "/api/v1/applications": "summaries: number, service, state and due times, no form data",
    "/api/v1/applications.csv": "the same summaries (applications/export.py: no personal data)",
    "/api/v1/inbox": "summaries, no form data",
    "/api/v1/inbox.csv": "summaries, no form data",
    "/api/v1/inbox/falls-due": "counts and summaries",
    "/api/v1/demands": "amounts owed: no name, mobile or form data",
    "/api/v1/demands/{number}": "amounts owed: no name, mobile or form data",
    "/api/v1/payments/{payment_id}": "a payment's amounts and status",
    "/api/v1/payments/{payment_id}/upi-qr": "a payment link",
    "/api/v1/payments/return/{gateway}": "the gateway's return, to the payer",
    "/api/v1/receipts/{number}": "a receipt: amounts and heads, no payer's name",
    "/api/v1/receipts/{number}/pdf": "a receipt: amounts and heads, no payer's name",
    "/api/v1/local-bodies/{code}/counter/day-report": "totals by clerk",
    "/api/v1/local-bodies/{code}/accounts/trial-balance": "the accounts",
    "/api/v1/exchange/access-log": "one's own: exchanges about oneself (exchange's message log)",
    "/api/v1/exchange/consents": "one's own consents to exchange",
    "/api/v1/exchange/members": "the registry of member nodes",
    "/api/v1/exchange/members/{instance}/{klass}/{member}/{subsystem}": "the registry of member nodes",
    "/language/{language}": "a redirect",
    "/manifest.webmanifest": "static",
    "/sw.js": "static",
    "/offline": "static",
    "/help": "static",
    "/contact": "static",
    "/accessibility": "static",
    "/privacy": "the privacy notice",
    "/terms": "static",
    "/sign-in": "a form",
    "/officer/sign-in": "a form",
    "/": "the catalog",
    "/services/{tenant}/{code}": "the catalog",
    "/choose-body": "the catalog",
    "/apply/{tenant}/{code}": "a new form",
    "/status": "service, status and dates for a number and its code",
    "/demands/{number}/pay": "amounts owed",
    "/applications/{number}/pay": "the application's demand: amounts owed",
    "/receipts/{number}": "a receipt: amounts and heads, no payer's name",
    "/officer/counter": "demands by number, amounts only",
    "/verify": "the public check of a certificate the holder presents",
    "/officer": "summaries, no form data",
    "/officer/inbox.csv": "summaries, no form data",
    "/officer/search": "summaries, no form data (opening one is /officer/applications/{number})",
    "/officer/search.csv": "summaries, no form data",
    "/officer/due": "summaries",
    "/officer/admin": "administration",
    "/officer/admin/go": "a redirect",
    "/officer/admin/bodies/{code}/services": "administration",
    "/officer/admin/bodies/{code}/officers": "officers, not citizens",
    "/officer/admin/pack": "the pack",
    "/officer/assist": "a form",
    "/officer/assist/{number}": "the operator's own assisted application",
}


def get_routes() -> set[str]:
    return {
        route.path
        for router in (*API_ROUTERS, *VIEW_ROUTERS)
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    }


def test_every_get_route_is_classified() -> None:
    routes = get_routes()
    unclassified = routes - set(PERSONAL) - set(NOT_PERSONAL)
    assert not unclassified, f"say whether these routes return personal data (PERSONAL or NOT_PERSONAL): {sorted(unclassified)}"
    assert not set(PERSONAL) & set(NOT_PERSONAL)
    stale = (set(PERSONAL) | set(NOT_PERSONAL)) - routes
    assert not stale, f"no longer routes: {sorted(stale)}"


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

"""The workbench's pages without a browser: who may see them, what they write, what a refusal leaves."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from nagara.applications.models import Application
from nagara.identity import service as identity
from nagara.identity.models import AuthToken, RoleAssignment, User
from nagara.kit.db import utcnow
from nagara.officer import views
from nagara.runtime import Runtime
from nagara.web.i18n import translations
from nagara.worker.runner import Worker
from tests.applications.test_workbench import counts, set_due, snapshot, submitted
from tests.conftest import People
from tests.officer.helpers import csrf_of, sign_in

PAGES = ["/officer", "/officer/due", "/officer/admin", "/officer/assist"]


def test_signed_out_and_citizens_are_sent_to_the_officer_sign_in(client: TestClient, people: People) -> None:
    for url in PAGES:
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/officer/sign-in?next=")
    sign_in(client, people, "citizen1")
    assert client.get("/officer", follow_redirects=False).headers["location"].startswith("/officer/sign-in")


def test_the_inbox_marks_overdue_work_by_word_and_icon(client: TestClient, people: People) -> None:
    late, fresh = submitted(client, people), submitted(client, people)

    set_due(people, late["number"], utcnow() - timedelta(hours=2))
    sign_in(client, people, "a_section_clerk")
    html = client.get("/officer").text
    rows = re.findall(r"<tr( class=\"is-overdue\")?>\s*<td><input type=\"checkbox\" name=\"item\" value=\"([^@]+)@", html)
    assert [number for _cls, number in rows] == [late["number"], fresh["number"]]  # most urgent first
    assert [bool(cls) for cls, _n in rows] == [True, False]
    assert html.count('class="overdue-flag"><span class="icon" aria-hidden="true">⚠</span> Overdue') == 1
    only_late = client.get("/officer", params={"overdue": "yes"}).text
    assert late["number"] in only_late and fresh["number"] not in only_late
    other_service = client.get("/officer", params={"service": "death-registration"}).text
    assert late["number"] not in other_service and "No open work matches." in other_service


def test_inbox_pages(client: TestClient, people: People) -> None:

    made = [submitted(client, people) for _ in range(3)]
    sign_in(client, people, "a_section_clerk")
    old, views.PAGE_SIZE = views.PAGE_SIZE, 2
    try:
        first = client.get("/officer").text
        second = client.get("/officer", params={"page": "2"}).text
    finally:
        views.PAGE_SIZE = old
    assert made[2]["number"] not in first and 'rel="next"' in first
    assert made[2]["number"] in second and 'rel="prev"' in second and 'rel="next"' not in second


def bulk_form(html: str, apps: list[dict[str, Any]], action: str, comment: str = "") -> dict[str, Any]:
    return {
        "csrf_token": csrf_of(html),
        "item": [f"{a['number']}@{a['version']}" for a in apps],
        "do": action,
        "comment": comment,
    }


def test_a_bulk_action_from_the_inbox(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(3)]
    sign_in(client, people, "a_section_clerk")
    inbox = client.get("/officer").text
    assert 'value="forward"' in inbox and 'value="return"' in inbox
    response = client.post("/officer/bulk", data=bulk_form(inbox, apps[:2], "forward"), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/officer?done=2"
    assert "The action was taken on 2 applications." in client.get(response.headers["location"]).text
    states = {n: s for n, s, _v in snapshot(people, [a["number"] for a in apps])}
    assert [states[a["number"]] for a in apps] == ["approval", "approval", "scrutiny"]


def test_a_refused_bulk_action_changes_nothing_and_names_the_refused(client: TestClient, people: People) -> None:
    apps = [submitted(client, people) for _ in range(2)]
    numbers = [a["number"] for a in apps]
    sign_in(client, people, "a_section_clerk")
    inbox = client.get("/officer").text
    stale = [apps[0], {**apps[1], "version": apps[1]["version"] + 1}]
    before, rows = counts(people), snapshot(people, numbers)
    response = client.post("/officer/bulk", data=bulk_form(inbox, stale, "forward"))
    assert response.status_code == 412  # the one refusal's status
    assert "Nothing was changed: 1 of the chosen applications refused this action." in response.text
    assert f"{numbers[1]}</a>: it changed since you loaded the inbox" in response.text
    assert (counts(people), snapshot(people, numbers)) == (before, rows)
    no_comment = client.post("/officer/bulk", data=bulk_form(inbox, apps, "return"))
    assert no_comment.status_code == 422 and "a comment saying why is required" in no_comment.text
    no_action = client.post("/officer/bulk", data=bulk_form(inbox, apps, ""))
    assert no_action.status_code == 422 and "Choose the action to take." in no_action.text
    assert (counts(people), snapshot(people, numbers)) == (before, rows)


def test_the_application_page_acts_and_refuses(client: TestClient, people: People) -> None:
    app = submitted(client, people)
    number = app["number"]
    sign_in(client, people, "a_section_clerk")
    html = client.get(f"/officer/applications/{number}").text
    assert "Name of the child" in html and "Hospital birth report" in html
    assert 'name="comment-return" maxlength="2000" required' in html
    token = csrf_of(html)
    before, rows = counts(people), snapshot(people, [number])
    missing = client.post(
        f"/officer/applications/{number}/act", data={"csrf_token": token, "do": "return", "version": str(app["version"])}
    )
    assert missing.status_code == 422 and "Write a comment saying why." in missing.text
    stale = client.post(
        f"/officer/applications/{number}/act",
        data={"csrf_token": token, "do": "forward", "version": str(app["version"] + 3)},
    )
    assert stale.status_code == 412 and "Someone else changed this application" in stale.text
    assert (counts(people), snapshot(people, [number])) == (before, rows)
    without_csrf = client.post(f"/officer/applications/{number}/act", data={"do": "forward", "version": str(app["version"])})
    assert without_csrf.status_code == 403
    done = client.post(
        f"/officer/applications/{number}/act",
        data={"csrf_token": token, "do": "return", "version": str(app["version"]), "comment-return": "the report is unreadable"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "Done: Return for correction." in page and "the report is unreadable" in page


def test_documents_are_served_for_framing_by_our_pages_only(client: TestClient, people: People) -> None:
    app = submitted(client, people)
    sign_in(client, people, "a_section_clerk")
    html = client.get(f"/officer/applications/{app['number']}").text
    url = re.search(r'<iframe src="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    doc = client.get(url)
    assert doc.status_code == 200 and doc.content.startswith(b"%PDF")
    assert "frame-ancestors 'self'" in doc.headers["content-security-policy"]
    assert doc.headers["cache-control"] == "private, no-store"
    client.cookies.clear()
    sign_in(client, people, "b_section_clerk")
    assert client.get(url).status_code == 404


def test_falls_due_page_lists_each_bucket(client: TestClient, people: People) -> None:

    late = submitted(client, people)
    set_due(people, late["number"], utcnow() - timedelta(days=1))
    sign_in(client, people, "a_officer")
    html = client.get("/officer/due").text
    assert re.search(r'<h2 id="overdue"><span aria-hidden="true">⚠ </span>Overdue \(1\)</h2>', html)
    assert late["number"] in html
    for bucket in ("today", "tomorrow", "this_week"):
        assert f'<h2 id="{bucket}">' in html


def test_administration_for_administrators_only(client: TestClient, people: People) -> None:
    sign_in(client, people, "a_section_clerk")
    assert client.get("/officer/admin").status_code == 403
    assert client.get(f"/officer/admin/bodies/{people.body_a}/services").status_code == 403
    client.cookies.clear()
    sign_in(client, people, "a_secretary")
    overview = client.get("/officer/admin").text
    assert f"/officer/admin/bodies/{people.body_a}/services" in overview
    assert f"/officer/admin/bodies/{people.body_b}/" not in overview
    assert "/officer/admin/pack" not in overview  # the state administrator's
    services = client.get(f"/officer/admin/bodies/{people.body_a}/services")
    assert services.status_code == 200 and "Birth registration" in services.text
    assert client.get(f"/officer/admin/bodies/{people.body_b}/services").status_code == 403
    assert client.get("/officer/admin/pack").status_code == 403
    client.cookies.clear()
    sign_in(client, people, "kl_admin")
    overview = client.get("/officer/admin").text
    assert f'<option value="{people.body_a}">' in overview  # every body of the state, to choose from
    assert f'<option value="{people.body_b}">' in overview
    assert people.body_ka not in overview
    tvm = client.get("/officer/admin/bodies/kl.tvm-corp/services").text
    assert "office_hours.opens" in tvm and "fees.items" in tvm and "Attukal Pongala" in tvm
    pack = client.get("/officer/admin/pack").text
    assert "Valid, and the same as what is loaded." in pack


def test_a_secretary_grants_and_revokes_a_role(client: TestClient, people: People) -> None:
    clerk = people.users["a_counter_clerk"]
    sign_in(client, people, "a_secretary")
    url = f"/officer/admin/bodies/{people.body_a}/officers"
    html = client.get(url).text
    assert "a.counter_clerk" in html and "Counter clerk" in html
    granted = client.post(f"{url}/grant", data={"csrf_token": csrf_of(html), "user": clerk.id, "role": "section_clerk"})
    assert granted.status_code == 200 and "The role was granted." in granted.text
    again = client.post(f"{url}/grant", data={"csrf_token": csrf_of(html), "user": clerk.id, "role": "section_clerk"})
    assert again.status_code == 409 and "They already hold this role here." in again.text
    with people.runtime.db.unit_of_work(readonly=True) as s:
        ra = s.scalar(
            select(RoleAssignment.id).where(RoleAssignment.user_id == clerk.id, RoleAssignment.role_code == "section_clerk")
        )
    revoked = client.post(f"{url}/revoke", data={"csrf_token": csrf_of(html), "user": clerk.id, "assignment": ra})
    assert "The role was revoked." in revoked.text
    client.cookies.clear()
    sign_in(client, people, "b_secretary")
    assert client.get(url).status_code == 404


@pytest.fixture
def sms(runtime: Runtime) -> Any:
    return runtime.sms


def test_an_operator_applies_with_the_citizens_consent(client: TestClient, people: People, runtime: Runtime, sms: Any) -> None:
    sign_in(client, people, "a_operator")
    start = client.get("/officer/assist").text
    choice = f"{people.body_a}/birth-registration"
    assert f'value="{choice}"' in start
    bad = client.post("/officer/assist", data={"csrf_token": csrf_of(start), "service": choice, "mobile": "123"})
    assert bad.status_code == 422 and "10-digit" in bad.text
    code_page = client.post("/officer/assist", data={"csrf_token": csrf_of(start), "service": choice, "mobile": "9847012345"})
    assert code_page.status_code == 200 and "••••••2345" in code_page.text
    Worker(runtime.db).run_until_idle()
    code = re.match(r"(\d+) is your consent code", sms.sent[-1][1]).group(1)  # type: ignore[union-attr]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', code_page.text))
    wrong = client.post("/officer/assist/consent", data={**hidden, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and "The code is wrong." in wrong.text
    done = client.post("/officer/assist/consent", data={**hidden, "code": code}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "The citizen consented." in page
    number = done.headers["location"].rsplit("/", 1)[1]
    assert f'href="/applications/{number}/edit"' in page  # the portal's draft form: the app serves it
    with runtime.db.unit_of_work(readonly=True) as s:
        app = s.scalar(select(Application).where(Application.number == number))
        assert app is not None and app.consent_at is not None
        assert app.filed_by_id == people.users["a_operator"].id != app.applicant_id
    client.cookies.clear()
    sign_in(client, people, "a_section_clerk")
    assert client.get("/officer/assist").status_code == 403


def test_an_operator_chooses_among_the_services_of_the_bodies_where_they_assist(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    """Each body once, however many of their roles there assist; no body where they do not."""
    with runtime.db.unit_of_work() as s:
        operator = s.get(User, people.users["a_operator"].id)
        assert operator is not None
        identity.grant_role(s, None, operator, "counter_clerk", identity.Place("kl", people.body_a))
    sign_in(client, people, "a_operator")
    start = client.get("/officer/assist").text
    assert start.count(f'value="{people.body_a}/birth-registration"') == 1
    assert f'value="{people.body_b}/' not in start


@pytest.mark.parametrize("lang", ["en", "ml", "kn", "hi"])
def test_every_page_renders_in_each_language(client: TestClient, people: People, lang: str) -> None:

    app = submitted(client, people)
    t = translations(lang)
    urls = {
        "/officer": "Inbox",
        f"/officer/applications/{app['number']}": "The form",
        "/officer/due": "What falls due",
        "/officer/admin": "Administration",
        f"/officer/admin/bodies/{people.body_a}/services": "Services and settings",
        f"/officer/admin/bodies/{people.body_a}/officers": "Officers and their roles",
    }
    sign_in(client, people, "a_secretary")
    for url, heading in urls.items():
        response = client.get(url, headers={"Accept-Language": lang})
        assert response.status_code == 200, url
        assert f'<html lang="{lang}">' in response.text
        assert t.gettext(heading) in response.text, (url, lang)
        if lang != "en":
            assert t.gettext(heading) != heading
    others = {"kl_admin": ("/officer/admin/pack", "The state's pack"), "a_operator": ("/officer/assist", "Apply for a citizen")}
    for who, (url, heading) in others.items():
        client.cookies.clear()
        sign_in(client, people, who)
        response = client.get(url, headers={"Accept-Language": lang})
        assert response.status_code == 200, url
        assert t.gettext(heading).replace("'", "&#39;") in response.text, (url, lang)


def _queries(people: People, client: TestClient, url: str) -> int:

    seen = {"n": 0}

    def count(*_args: Any, **_kw: Any) -> None:
        seen["n"] += 1

    engine = people.runtime.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen["n"]


def test_the_inbox_and_falls_due_cost_the_same_queries_for_more_rows(client: TestClient, people: People) -> None:
    for _ in range(2):
        submitted(client, people)
    sign_in(client, people, "a_section_clerk")
    few = (_queries(people, client, "/officer"), _queries(people, client, "/officer/due"))
    for _ in range(6):
        submitted(client, people)
    many = (_queries(people, client, "/officer"), _queries(people, client, "/officer/due"))
    assert many == few, "a query per row crept in"


def test_a_secretary_disables_an_officer_and_revokes_their_keys(client: TestClient, people: People) -> None:
    clerk = people.users["a_counter_clerk"]
    bearer = {"Authorization": f"Bearer {people.token('a_counter_clerk')}"}
    kept = {"Authorization": f"Bearer {people.token('a_counter_clerk')}"}
    sign_in(client, people, "a_secretary")
    url = f"/officer/admin/bodies/{people.body_a}/officers"
    html = client.get(url).text
    assert "Revoke API token 1 of a.counter_clerk" in html
    assert "Disable a.secretary" not in html  # not one's own account
    with people.runtime.db.unit_of_work(readonly=True) as s:
        first = s.scalar(
            select(AuthToken.id).where(AuthToken.user_id == clerk.id).order_by(AuthToken.created_at, AuthToken.id).limit(1)
        )
        assert s.get(AuthToken, first).token_hash == identity.sha256_hex(bearer["Authorization"][7:])  # type: ignore[union-attr]
    revoked = client.post(f"{url}/revoke-key", data={"csrf_token": csrf_of(html), "user": clerk.id, "token": first})
    assert revoked.status_code == 200 and "It was revoked and no longer works." in revoked.text
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert client.get("/api/v1/me", headers=kept).status_code == 200

    mine = client.post(f"{url}/disable", data={"csrf_token": csrf_of(html), "user": people.users["a_secretary"].id})
    assert mine.status_code == 409 and "You cannot disable or enable your own account." in mine.text
    disabled = client.post(f"{url}/disable", data={"csrf_token": csrf_of(html), "user": clerk.id})
    assert disabled.status_code == 200 and "The account was disabled" in disabled.text
    assert client.get("/api/v1/me", headers=kept).status_code == 401
    assert "Enable a.counter_clerk" in disabled.text
    enabled = client.post(f"{url}/enable", data={"csrf_token": csrf_of(html), "user": clerk.id})
    assert "The account was enabled." in enabled.text
    # Another body's secretary reaches neither the page nor the officer.
    client.cookies.clear()
    sign_in(client, people, "b_secretary")
    html_b = client.get(f"/officer/admin/bodies/{people.body_b}/officers").text
    refused = client.post(f"{url}/disable", data={"csrf_token": csrf_of(html_b), "user": clerk.id})
    assert refused.status_code in (403, 404)

"""The messages page: a citizen's and an officer's portal messages, unread counted, marked read by a form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.identity import service as identity
from nagara.identity.deps import csrf_token_for
from nagara.identity.models import User
from nagara.notifications import service as notifications
from nagara.notifications.models import Notification
from nagara.runtime import Runtime
from tests.certificates.helpers import approved_birth
from tests.conftest import People
from tests.notifications.helpers import deliver, quiet_hours, set_language


def _sign_in(client: TestClient, people: People, runtime: Runtime, who: str) -> str:
    with runtime.db.unit_of_work() as s:
        raw = identity.issue_token(s, s.get(User, people.users[who].id), "session")  # type: ignore[arg-type]
    client.cookies.set(runtime.settings.session_cookie, raw)
    return csrf_token_for(runtime, raw)


def test_the_citizen_reads_their_messages_in_their_language_and_marks_them_read(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    set_language(client, people, "citizen1", "ml")
    app = approved_birth(client, people)
    deliver(runtime)
    csrf = _sign_in(client, people, runtime, "citizen1")
    client.cookies.set("nagara_lang", "ml")
    page = client.get("/notifications")
    assert page.status_code == 200
    assert "വായിക്കാത്തവ: 2" in page.text  # received and approved
    assert f"അപേക്ഷ {app['number']} അംഗീകരിച്ചു" in page.text
    assert f"അപേക്ഷ {app['number']} ലഭിച്ചു" in page.text
    assert page.text.count('class="message unread"') == 2
    assert 'href="/notifications"' in page.text  # the header links the page

    refused = client.post("/notifications/read", data={"csrf_token": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post("/notifications/read", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get("/notifications")
    assert "വായിക്കാത്തവ: 0" in page.text and 'class="message unread"' not in page.text


def test_another_citizen_sees_none_of_them_and_an_officer_sees_their_own(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    approved_birth(client, people)
    deliver(runtime)
    _sign_in(client, people, runtime, "citizen2")
    page = client.get("/notifications")
    assert page.status_code == 200
    assert "Unread: 0" in page.text and "You have no messages yet." in page.text
    _sign_in(client, people, runtime, "a_secretary")
    page = client.get("/notifications")
    assert page.status_code == 200 and re.search(r"Unread: \d+", page.text)


def test_the_api_lists_and_counts_and_marks_one_read(client: TestClient, people: People, runtime: Runtime) -> None:
    app = approved_birth(client, people)
    deliver(runtime)
    headers = people.headers("citizen1")
    box = client.get("/api/v1/notifications", headers=headers).json()
    assert box["unread"] == box["total"] == 2
    assert {n["event"] for n in box["items"]} == {"received", "approved"}
    assert all(n["application_number"] == app["number"] for n in box["items"])
    first = box["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/{first}/read", headers=headers).json() == {"changed": 1}
    assert client.post(f"/api/v1/notifications/{first}/read", headers=headers).json() == {"changed": 0}
    assert client.get("/api/v1/notifications", params={"unread": True}, headers=headers).json()["total"] == 2
    assert len(client.get("/api/v1/notifications", params={"unread": True}, headers=headers).json()["items"]) == 1
    other = client.post(f"/api/v1/notifications/{first}/read", headers=people.headers("citizen2"))
    assert other.status_code == 404
    assert client.get("/api/v1/notifications", headers=people.headers("citizen2")).json()["total"] == 0


def test_the_administrator_sees_delivery_per_channel_and_template(client: TestClient, people: People, runtime: Runtime) -> None:
    quiet_hours(runtime, "kl", now_inside=False)
    approved_birth(client, people)
    deliver(runtime)
    response = client.get("/api/v1/states/kl/notifications/delivery", headers=people.headers("kl_admin"))
    assert response.status_code == 200, response.text
    rows = {(r["channel"], r["event"]): r for r in response.json()["rows"]}
    assert rows[("portal", "approved")]["delivered_rate"] == 1.0
    assert rows[("sms", "approved")]["statuses"] == {"sending": 1}  # handed to the console, no receipt
    assert rows[("sms", "approved")]["failed"] == 0
    refused = client.get("/api/v1/states/kl/notifications/delivery", headers=people.headers("a_section_clerk"))
    assert refused.status_code == 403
    other = client.get("/api/v1/states/ka/notifications/delivery", headers=people.headers("kl_admin"))
    assert other.status_code == 403


def test_the_citizen_chooses_channels_an_e_mail_address_and_the_opt_out_on_a_page(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    csrf = _sign_in(client, people, runtime, "citizen1")
    page = client.get("/my/notifications")
    assert page.status_code == 200
    assert re.search(r'<input type="checkbox" id="f-channel" name="channel" value="sms" checked>', page.text)  # the default
    assert 'value="email">' in page.text and 'value="whatsapp"' not in page.text  # not configured on this node
    with runtime.db.unit_of_work() as s:
        quiet = notifications.document(s, "kl")["quiet_hours"]  # Kerala's, from its pack (as other tests left them)
    assert f"Between {quiet['from']} and {quiet['until']} (state time)" in page.text
    assert 'href="/my/profile"' in page.text  # the language is the profile's

    wrong = client.post(
        "/my/notifications", data={"csrf_token": csrf, "channel": ["email"], "email": "not an address"}, follow_redirects=False
    )
    assert wrong.status_code == 422
    assert "name@example.in" in wrong.text and 'aria-invalid="true"' in wrong.text
    assert client.get("/api/v1/me/notification-preferences", headers=people.headers("citizen1")).json()["channels"] == [
        "sms",
        "portal",
    ]  # nothing kept

    saved = client.post(
        "/my/notifications",
        data={"csrf_token": csrf, "channel": ["email", "sms"], "email": "lakshmi@example.in", "opt_out": "1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/my/notifications?saved=1"
    mine = client.get("/api/v1/me/notification-preferences", headers=people.headers("citizen1")).json()
    assert mine == {"channels": ["sms", "email", "portal"], "email": "lakshmi@example.in", "opt_out": True, "language": "en"}
    page = client.get("/my/notifications?saved=1")
    assert 'value="lakshmi@example.in"' in page.text and 'name="opt_out" value="1" checked' in page.text

    client.cookies.set("nagara_lang", "ml")
    assert "ഞങ്ങൾ നിങ്ങളെ അറിയിക്കുന്ന വിധം" in client.get("/my/notifications").text


def test_the_state_administrator_reads_delivery_and_failures_on_a_page(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    quiet_hours(runtime, "kl", now_inside=False)
    approved_birth(client, people)
    deliver(runtime)
    with runtime.db.unit_of_work() as s:
        row = s.scalars(select(Notification).where(Notification.channel == "sms", Notification.event == "approved")).one()
        row.status, row.failure = "permanent-failure", "HTTPStatusError: 400 Bad Request"
    _sign_in(client, people, runtime, "kl_admin")
    overview = client.get("/officer/admin")
    assert 'href="/officer/admin/notifications"' in overview.text
    page = client.get("/officer/admin/notifications?days=30")
    assert page.status_code == 200, page.text
    assert "<code>approved</code>" in page.text and "<code>received</code>" in page.text
    assert "<code>permanent-failure</code> 1" in page.text  # by status, in the table
    assert "HTTPStatusError: 400 Bad Request" in page.text  # the latest failures
    _sign_in(client, people, runtime, "a_section_clerk")
    assert client.get("/officer/admin/notifications").status_code == 403

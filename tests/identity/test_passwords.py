"""Passwords: strength (NIST SP 800-63B, zxcvbn), change by the officer, reset by an administrator;
authenticator codes used once; sign-in forms that work whatever cookie is left over; the client's
address behind trusted proxies."""

from __future__ import annotations

import ipaddress
import re

import pytest
from fastapi.testclient import TestClient

from nagara.app import forwarded_client
from nagara.audit.models import AuditEvent
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.runtime import Runtime
from nagara.web.csrf import FORM_COOKIE
from tests.conftest import PASSWORD, People, totp_now
from tests.officer.helpers import csrf_of, sign_in

NEW = "a quiet heron over the backwaters"


def _create(client: TestClient, people: People, username: str, password: str):
    return client.post(
        "/api/v1/users",
        json={
            "state": "kl",
            "username": username,
            "name": "Lakshmi Menon",
            "password": password,
            "role": "section_clerk",
            "local_body": people.body_a,
        },
        headers=people.headers("a_secretary"),
    )


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("aaaaaaaaaaaa", "repeats"),
        (" " * 12, "only spaces"),
        ("a.weak-clerkxy", "built from your username, name or state"),
        ("lakshmimenon12", "built from your username, name or state"),
        ("password1234", "very common password"),
        ("short one", "at least 12 characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(client: TestClient, people: People, password: str, says: str) -> None:
    refused = _create(client, people, "a.weak-clerk", password)
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["loc"] == ["body", "password"]
    assert says in error["msg"].lower(), error["msg"]


def test_the_test_and_demo_passwords_pass_the_check() -> None:
    for password in (PASSWORD, "nagara-demo-2026", "bench-password-1", "parallel-password-1"):
        identity.check_password(password, username="kl.admin", name="State Administrator", state="kl")


def _officer_login(client: TestClient, username: str, password: str, *, session: bool = False):
    body = {"username": username, "password": password, "totp": totp_now(), "session": session}
    return client.post("/api/v1/auth/officer", json=body)


def test_an_officer_changes_their_password_and_their_other_sessions_end(client: TestClient, people: People) -> None:
    current = people.token("a_officer")
    other = people.token("a_officer")
    headers = {"Authorization": f"Bearer {current}"}
    wrong = client.post("/api/v1/me/password", json={"current_password": "not it at all", "password": NEW}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["body", "current_password"]
    weak = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "password": "a.officer1234"}, headers=headers)
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["loc"] == ["body", "password"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200  # nothing ended yet
    changed = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "password": NEW}, headers=headers)
    assert changed.status_code == 204, changed.text
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # the one in use stays
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert _officer_login(client, "a.officer", PASSWORD).status_code == 401
    assert _officer_login(client, "a.officer", NEW).status_code == 200


def test_citizens_have_no_password_to_change(client: TestClient, people: People) -> None:
    refused = client.post(
        "/api/v1/me/password", json={"current_password": "anything at all", "password": NEW}, headers=people.headers("citizen1")
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "current_password"]


def test_a_secretary_resets_an_officers_password_and_ends_their_sessions(client: TestClient, people: People) -> None:
    officer_token = people.token("a_officer")
    target = people.users["a_officer"].id
    url = f"/api/v1/users/{target}/password"
    assert client.post(url, json={"password": NEW}, headers=people.headers("b_secretary")).status_code == 404
    assert client.post(url, json={"password": NEW}, headers=people.headers("citizen1")).status_code == 403
    weak = client.post(url, json={"password": "aaaaaaaaaaaa"}, headers=people.headers("a_secretary"))
    assert weak.status_code == 422
    assert client.post(url, json={"password": NEW}, headers=people.headers("a_secretary")).status_code == 204
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {officer_token}"}).status_code == 401
    assert _officer_login(client, "a.officer", NEW).status_code == 200
    own = client.post(
        f"/api/v1/users/{people.users['a_secretary'].id}/password", json={"password": NEW}, headers=people.headers("a_secretary")
    )
    assert own.status_code == 422
    assert "current one" in own.json()["errors"][0]["msg"]


def test_a_secretary_resets_a_password_on_the_officers_page(client: TestClient, people: People, runtime: Runtime) -> None:
    target = people.users["a_section_clerk"]
    officer_token = people.token("a_section_clerk")
    sign_in(client, people, "a_secretary")
    url = f"/officer/admin/bodies/{people.body_a}/officers"
    html = client.get(url).text
    assert "New password for a.section_clerk" in html
    weak = client.post(f"{url}/password", data={"csrf_token": csrf_of(html), "user": target.id, "password": "aaaaaaaaaaaa"})
    assert weak.status_code == 422
    assert "too easy to guess" in weak.text
    done = client.post(f"{url}/password", data={"csrf_token": csrf_of(html), "user": target.id, "password": NEW})
    assert done.status_code == 200
    assert "The password was set." in done.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {officer_token}"}).status_code == 401
    with runtime.db.unit_of_work(readonly=True) as s:
        user = s.get(User, target.id)
        assert user is not None
        assert user.password_hash is not None
        assert runtime.hasher.verify(user.password_hash, NEW)


def test_an_authenticator_code_signs_in_once(client: TestClient, people: People) -> None:
    code = totp_now()
    body = {"username": "a.counter_clerk", "password": PASSWORD, "totp": code}
    assert client.post("/api/v1/auth/officer", json=body).status_code == 200
    again = client.post("/api/v1/auth/officer", json=body)
    assert again.status_code == 401


def test_the_sign_in_forms_work_with_a_stale_session_cookie(client: TestClient, people: People, runtime: Runtime) -> None:
    client.cookies.set(runtime.settings.session_cookie, "ngs_expired-or-revoked-long-ago")
    page = client.get("/sign-in")
    assert page.status_code == 200
    sent = client.post("/sign-in", data={"csrf_token": csrf_of(page.text), "state": "kl", "mobile": "9847011111"})
    assert sent.status_code == 200, sent.text[:500]
    assert "challenge_id" in sent.text
    # A citizen's browser, signed in, reaches the officer sign-in and signs an officer in there.
    client.cookies.clear()
    sign_in(client, people, "citizen1")
    officer_page = client.get("/officer/sign-in")
    assert officer_page.status_code == 200
    form = {"csrf_token": csrf_of(officer_page.text), "username": "a.operator", "password": PASSWORD, "totp": totp_now()}
    signed = client.post("/officer/sign-in", data=form, follow_redirects=False)
    assert signed.status_code == 303, signed.text[:500]
    assert signed.headers["location"] == "/officer"


def test_an_anonymous_form_still_needs_its_token(client: TestClient, runtime: Runtime) -> None:
    client.cookies.set(runtime.settings.session_cookie, "ngs_stale")
    client.cookies.set(FORM_COOKIE, "seed")
    for token in ("", "0" * 64):
        refused = client.post("/sign-in", data={"csrf_token": token, "state": "kl", "mobile": "9847011111"})
        assert refused.status_code == 403


TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "client"),
    [
        ("203.0.113.9", "1.2.3.4", TRUSTED, "203.0.113.9"),  # not a proxy of ours: its header is ignored
        ("10.0.0.1", "1.2.3.4", (), "10.0.0.1"),  # nothing configured: nobody is believed
        ("10.0.0.1", "1.2.3.4", TRUSTED, "1.2.3.4"),
        ("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", TRUSTED, "1.2.3.4"),  # the first hop our proxies did not add
        ("10.0.0.1", "not-an-address, 10.0.0.2", TRUSTED, "10.0.0.2"),
        ("10.0.0.1", "", TRUSTED, "10.0.0.1"),
        ("2001:db8::1", "2001:db8::2, 198.51.100.7", TRUSTED, "198.51.100.7"),
    ],
)
def test_the_client_address_behind_proxies(peer: str, header: str, trusted: tuple, client: str) -> None:
    assert forwarded_client(peer, header, trusted) == client


def test_without_trusted_proxies_forwarded_for_is_ignored(client: TestClient, runtime: Runtime) -> None:
    assert runtime.settings.trusted_proxies == []
    for i in range(runtime.settings.otp_per_address_per_hour):
        asked = client.post(
            "/api/v1/auth/otp", json={"state": "kl", "mobile": f"98479{i:05d}"}, headers={"X-Forwarded-For": f"192.0.2.{i}"}
        )
        assert asked.status_code == 201
    refused = client.post(
        "/api/v1/auth/otp", json={"state": "kl", "mobile": "9847999999"}, headers={"X-Forwarded-For": "192.0.2.250"}
    )
    assert refused.status_code == 429  # every request counted against the peer's own address


def test_passwords_are_not_in_the_audit_data(client: TestClient, people: People, runtime: Runtime) -> None:
    assert (
        client.post(
            f"/api/v1/users/{people.users['a_officer'].id}/password",
            json={"password": NEW},
            headers=people.headers("a_secretary"),
        ).status_code
        == 204
    )
    with runtime.db.unit_of_work(readonly=True) as s:
        texts = [str(e.data) for e in s.query(AuditEvent).all()]
    assert not any(re.search("heron", t) for t in texts)


def test_an_officer_changes_their_password_on_the_profile_page(client: TestClient, people: People) -> None:
    other = people.token("a_operator")
    csrf = sign_in(client, people, "a_operator")
    page = client.get("/my/profile")
    assert "Change your password" in page.text
    wrong = client.post("/my/password", data={"csrf_token": csrf, "current_password": "not it at all", "password": NEW})
    assert wrong.status_code == 422
    assert "The current password is wrong." in wrong.text
    weak = client.post("/my/password", data={"csrf_token": csrf, "current_password": PASSWORD, "password": "a.operator123"})
    assert weak.status_code == 422
    assert "too easy to guess" in weak.text
    done = client.post("/my/password", data={"csrf_token": csrf, "current_password": PASSWORD, "password": NEW})
    assert done.status_code == 200  # followed the redirect to the profile
    assert "Your password is changed." in done.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 200  # this browser's session stays
    client.cookies.clear()
    sign_in(client, people, "citizen1")
    assert "Change your password" not in client.get("/my/profile").text


def test_any_username_typed_is_counted_without_error(client: TestClient) -> None:
    for name in ("x" * 500, "ಬಳಕೆದಾರ" * 40, ""):
        body = {"username": name, "password": "whatever it is", "totp": "123456"}
        assert client.post("/api/v1/auth/officer", json=body).status_code == 401

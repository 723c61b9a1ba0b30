"""Officer sign-in (Argon2id + TOTP), web sessions with CSRF, bearer tokens and partner API keys."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from nagara.identity import service as identity
from nagara.identity.models import AuthToken, User
from nagara.kit.db import utcnow
from nagara.runtime import Runtime
from tests.conftest import PASSWORD, TOTP_SECRET, People, totp_now


def login(client: TestClient, username: str, password: str = PASSWORD, totp: str | None = None, *, session: bool = False):
    return client.post(
        "/api/v1/auth/officer",
        json={"username": username, "password": password, "totp": totp or totp_now(), "session": session},
    )


def test_password_is_stored_as_argon2id(people: People, runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        user = s.get(User, people.users["a_officer"].id)
        assert user is not None
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert user.totp_sealed is not None
        assert TOTP_SECRET not in user.totp_sealed


def test_an_officer_needs_password_and_authenticator_code(client: TestClient, people: People) -> None:
    ok = login(client, "a.officer")
    assert ok.status_code == 200, ok.text
    me_response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {ok.json()['token']}"})
    assert me_response.status_code == 200, me_response.text
    me = me_response.json()
    assert me["username"] == "a.officer"
    assert me["roles"][0]["local_body"] == people.body_a
    assert login(client, "a.officer", password="wrong password!").status_code == 401
    wrong_code = str((int(totp_now()) + 500000) % 1000000).zfill(6)
    assert login(client, "a.officer", totp=wrong_code).status_code == 401
    assert login(client, "nobody.here").status_code == 401


def test_repeated_failures_lock_the_account(client: TestClient, people: People, runtime: Runtime) -> None:
    for _ in range(runtime.settings.login_max_failures):
        assert login(client, "a.section_clerk", password="guess guess guess").status_code == 401
    locked = login(client, "a.section_clerk")  # even the right password
    assert locked.status_code == 429
    assert "locked" in locked.json()["detail"]


def test_web_sessions_use_secure_cookies_and_demand_csrf_tokens(client: TestClient, people: People) -> None:
    signed_in = login(client, "a.secretary", session=True)
    assert signed_in.status_code == 200
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    csrf = signed_in.json()["csrf_token"]
    assert client.get("/api/v1/me").status_code == 200  # reading needs no CSRF token
    refused = client.patch("/api/v1/me", json={"language": "ml"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    forged = client.patch("/api/v1/me", json={"language": "ml"}, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    accepted = client.patch("/api/v1/me", json={"language": "ml"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200
    assert accepted.json()["language"] == "ml"
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/me").status_code == 401


def test_logout_revokes_a_bearer_token(client: TestClient, people: People) -> None:
    token = people.token("a_officer")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_expired_tokens_are_refused(client: TestClient, people: People, runtime: Runtime) -> None:
    token = people.token("a_officer")
    with runtime.db.unit_of_work() as s:
        row = s.query(AuthToken).filter(AuthToken.token_hash == identity.sha256_hex(token)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_partner_systems_use_api_keys(client: TestClient, people: People, runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        _user, key = identity.create_partner(
            s, state_code="kl", username="ksitm.digilocker", name="DigiLocker bridge", role="auditor", place=identity.Place("kl")
        )
    assert key.startswith("ngk_")
    listed = client.get("/api/v1/audit-events", headers={"X-API-Key": key})
    assert listed.status_code == 200
    # A session secret is not an API key, and an API key is not a session cookie.
    client.cookies.set(runtime.settings.session_cookie, key)
    assert client.get("/api/v1/me").status_code == 401


def test_a_secretary_enrols_an_officer_of_their_own_body(client: TestClient, people: People) -> None:
    created = client.post(
        "/api/v1/users",
        json={
            "state": "kl",
            "username": "a.new-clerk",
            "name": "New Clerk",
            "password": "twelve chars ok",
            "role": "section_clerk",
            "local_body": people.body_a,
            "section": "births",
        },
        headers=people.headers("a_secretary"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["roles"][0]["section"] == "births"
    assert body["totp_uri"].startswith("otpauth://totp/")
    code = pyotp.TOTP(body["totp_secret"]).now()
    assert login(client, "a.new-clerk", password="twelve chars ok", totp=code).status_code == 200
    clash = client.post(
        "/api/v1/users",
        json={
            "state": "kl",
            "username": "a.new-clerk",
            "name": "X",
            "password": "twelve chars ok",
            "role": "section_clerk",
            "local_body": people.body_a,
        },
        headers=people.headers("a_secretary"),
    )
    assert clash.status_code == 409
    wrong_scope = client.post(
        f"/api/v1/users/{body['user']['id']}/roles",
        json={"role": "state_admin", "local_body": people.body_a},
        headers=people.headers("a_secretary"),
    )
    assert wrong_scope.status_code == 422
    assert "state-wide" in wrong_scope.json()["errors"][0]["msg"]
    escalate = client.post(
        f"/api/v1/users/{body['user']['id']}/roles",
        json={"role": "state_admin"},
        headers=people.headers("a_secretary"),
    )
    assert escalate.status_code == 403


def test_an_officer_cannot_revoke_their_own_last_role(client: TestClient, people: People) -> None:
    me = people.users["a_secretary"].id
    h = people.headers("a_secretary")
    only = client.get("/api/v1/me", headers=h).json()["roles"][0]["id"]
    refused = client.delete(f"/api/v1/users/{me}/roles/{only}", headers=h)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "last role" in refused.json()["detail"]
    assert client.get("/api/v1/me", headers=h).status_code == 200
    # With a second role, one of them may go.
    second = client.post(f"/api/v1/users/{me}/roles", json={"role": "officer", "local_body": people.body_a}, headers=h)
    assert second.status_code == 201, second.text
    assert client.delete(f"/api/v1/users/{me}/roles/{second.json()['id']}", headers=h).status_code == 204
    assert client.delete(f"/api/v1/users/{me}/roles/{only}", headers=h).status_code == 409

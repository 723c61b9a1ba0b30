"""Credentials can be revoked and expire, accounts can be disabled, and tokens are minted only
from an interactive sign-in (issue 12, finding 6)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from nagara.audit.models import AuditEvent
from nagara.identity import service as identity
from nagara.identity.models import AuthToken
from nagara.kit.db import utcnow
from nagara.runtime import Runtime
from tests.conftest import People, totp_next
from tests.identity.test_officers import login


def _partner(runtime: Runtime, username: str = "ksitm.bridge") -> tuple[str, str]:
    with runtime.db.unit_of_work() as s:
        user, key = identity.create_partner(
            s, state_code="kl", username=username, name="Bridge", role="auditor", place=identity.Place("kl")
        )
        return user.id, key


def _is_problem(response: Any, status: int) -> bool:
    return response.status_code == status and response.headers["content-type"].startswith("application/problem+json")


def _audited(runtime: Runtime, entity_type: str, entity_id: str) -> list[AuditEvent]:
    with runtime.db.unit_of_work(readonly=True) as s:
        query = select(AuditEvent).where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        return list(s.scalars(query))


def test_api_keys_expire_and_the_listing_says_when(client: TestClient, people: People, runtime: Runtime) -> None:
    _pid, key = _partner(runtime)
    listed = client.get("/api/v1/me/tokens", headers={"X-API-Key": key})
    assert listed.status_code == 200, listed.text
    (mine,) = [t for t in listed.json() if t["current"]]
    assert mine["kind"] == "api_key"
    expires = datetime.fromisoformat(mine["expires_at"])
    expected = utcnow() + timedelta(days=runtime.settings.api_key_ttl_days)
    assert abs((expires - expected).total_seconds()) < 3600
    with runtime.db.unit_of_work() as s:
        s.execute(update(AuthToken).where(AuthToken.id == mine["id"]).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/api/v1/audit-events", headers={"X-API-Key": key}).status_code == 401


def test_a_partner_revokes_its_own_key(client: TestClient, people: People, runtime: Runtime) -> None:
    _pid, key = _partner(runtime)
    h = {"X-API-Key": key}
    key_id = client.get("/api/v1/me/tokens", headers=h).json()[0]["id"]
    assert client.delete(f"/api/v1/me/tokens/{key_id}", headers=h).status_code == 204
    assert client.get("/api/v1/audit-events", headers=h).status_code == 401
    assert [e.changes for e in _audited(runtime, "auth_tokens", key_id) if e.action == "auth_tokens.updated"] == [["revoked_at"]]


def test_an_administrator_revokes_a_partners_key(client: TestClient, people: People, runtime: Runtime) -> None:
    pid, key = _partner(runtime)
    h = {"X-API-Key": key}
    listed = client.get(f"/api/v1/users/{pid}/tokens", headers=people.headers("kl_admin"))
    assert listed.status_code == 200, listed.text
    (key_row,) = listed.json()
    assert key_row["kind"] == "api_key" and key_row["expires_at"] is not None
    # A local body's secretary manages no state-wide role: the partner's key is not theirs to revoke.
    url = f"/api/v1/users/{pid}/tokens/{key_row['id']}"
    assert client.delete(url, headers=people.headers("a_secretary")).status_code in (403, 404)
    assert client.get("/api/v1/audit-events", headers=h).status_code == 200
    assert client.delete(url, headers=people.headers("kl_admin")).status_code == 204
    assert client.get("/api/v1/audit-events", headers=h).status_code == 401
    assert client.delete(f"/api/v1/users/{pid}/tokens/no-such-id", headers=people.headers("kl_admin")).status_code == 404


def test_a_disabled_users_tokens_keys_and_cookies_stop_at_the_next_request(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    officer = people.users["a_officer"].id
    bearer = {"Authorization": f"Bearer {people.token('a_officer')}"}
    signed_in = login(client, "a.officer", session=True)
    assert signed_in.status_code == 200
    cookie = client.cookies.get(runtime.settings.session_cookie)
    assert cookie and client.get("/api/v1/me").status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    admin = people.headers("a_secretary")
    # Not one's own account, and not someone outside one's jurisdiction.
    refused = client.post(f"/api/v1/users/{people.users['a_secretary'].id}/disable", headers=admin)
    assert _is_problem(refused, 409), refused.text
    assert client.post(f"/api/v1/users/{people.users['b_officer'].id}/disable", headers=admin).status_code in (403, 404)

    disabled = client.post(f"/api/v1/users/{officer}/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    client.cookies.set(runtime.settings.session_cookie, cookie)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/officer", follow_redirects=False).status_code in (302, 303)  # to the sign-in page
    client.cookies.clear()
    assert login(client, "a.officer").status_code == 401
    assert "is_active" in {c for e in _audited(runtime, "users", officer) for c in (e.changes or [])}

    enabled = client.post(f"/api/v1/users/{officer}/enable", headers=admin)
    assert enabled.status_code == 200 and enabled.json()["is_active"] is True
    assert client.get("/api/v1/me", headers=bearer).status_code == 401  # revoked when disabled: sign in again
    assert login(client, "a.officer", totp=totp_next()).status_code == 200  # the first sign-in used this step's code


def _fresh(client: TestClient, username: str) -> dict[str, str]:
    signed_in = login(client, username)
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['token']}"}


def test_tokens_are_minted_only_from_a_recent_interactive_sign_in(client: TestClient, people: People, runtime: Runtime) -> None:
    _pid, key = _partner(runtime)
    by_key = client.post("/api/v1/me/tokens", json={"label": "script"}, headers={"X-API-Key": key})
    assert _is_problem(by_key, 403), by_key.text
    by_key_as_bearer = client.post("/api/v1/me/tokens", json={"label": "script"}, headers={"Authorization": f"Bearer {key}"})
    assert _is_problem(by_key_as_bearer, 403)
    by_cli_token = client.post("/api/v1/me/tokens", json={"label": "script"}, headers=people.headers("a_officer"))
    assert _is_problem(by_cli_token, 403)

    fresh = _fresh(client, "a.officer")
    minted = client.post("/api/v1/me/tokens", json={"label": "script"}, headers=fresh)
    assert minted.status_code == 201, minted.text
    from_minted = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert client.get("/api/v1/me", headers=from_minted).status_code == 200
    again = client.post("/api/v1/me/tokens", json={"label": "chain"}, headers=from_minted)
    assert _is_problem(again, 403) and "sign" in again.json()["detail"]

    # A web session from a password sign-in mints while it is recent, not hours later.
    session = login(client, "a.section_clerk", session=True).json()
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    assert client.post("/api/v1/me/tokens", json={"label": "web"}, headers=csrf).status_code == 201
    with runtime.db.unit_of_work() as s:
        old = utcnow() - timedelta(minutes=runtime.settings.token_mint_within_minutes + 1)
        s.execute(update(AuthToken).where(AuthToken.token_hash == identity.sha256_hex(session["token"])).values(created_at=old))
    late = client.post("/api/v1/me/tokens", json={"label": "web"}, headers=csrf)
    assert _is_problem(late, 403) and "sign in again" in late.json()["detail"]
    client.cookies.clear()


def test_logout_with_an_api_key_is_refused_and_says_how_to_revoke(client: TestClient, people: People, runtime: Runtime) -> None:
    _pid, key = _partner(runtime)
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        refused = client.post("/api/v1/auth/logout", headers=headers)
        assert _is_problem(refused, 400), refused.text
        assert "/api/v1/me/tokens" in refused.json()["detail"]
        assert client.get("/api/v1/audit-events", headers=headers).status_code == 200  # and it says so: still works


def test_logout_revokes_the_credential_it_came_with(client: TestClient, people: People) -> None:
    bearer = {"Authorization": f"Bearer {people.token('a_officer')}"}
    other = {"Authorization": f"Bearer {people.token('a_officer')}"}
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert client.get("/api/v1/me", headers=other).status_code == 200

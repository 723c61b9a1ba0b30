"""What authentication costs, and that nothing it reads outlives a revoked role or token.

Every request authenticates, so its statements are paid by every endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from nagara.identity.models import User
from tests.conftest import People


@contextmanager
def statements(people: People) -> Iterator[list[str]]:
    """The SQL statements run on the test client's engine inside the block.

    The tests' units of work commit into savepoints of one rolled-back transaction, so
    SAVEPOINT and RELEASE SAVEPOINT are the harness's, not the request's, and are left out
    (a served request's BEGIN and COMMIT are not statements on PostgreSQL either).
    """
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            seen.append(statement)

    engine = people.runtime.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_me_runs_one_statement(client: TestClient, people: People) -> None:
    for who in ("a_secretary", "citizen1"):
        headers = people.headers(who)
        with statements(people) as seen:
            response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 200, response.text
        # The token, its user and the user's role assignments with their grants, joined
        # (identity.service.authenticate); the response (identity.service.describe) is built
        # from those rows, kept in the unit of work's memo, with no statement of its own.
        assert len(seen) <= 1, "\n\n".join(seen)
        assert response.json()["id"] == people.users[who].id


def test_a_revoked_role_stops_working_at_once(client: TestClient, people: People) -> None:
    clerk = people.headers("a_section_clerk")
    secretary = people.headers("a_secretary")
    clerk_id = people.users["a_section_clerk"].id
    assert client.get("/api/v1/users", headers=clerk).status_code == 403  # a section clerk may not list officers
    granted = client.post(
        f"/api/v1/users/{clerk_id}/roles", json={"role": "officer", "local_body": people.body_a}, headers=secretary
    )
    assert granted.status_code == 201, granted.text
    listed = client.get("/api/v1/users", headers=clerk)  # the same token, now with the officer's role
    assert listed.status_code == 200, listed.text
    assert client.delete(f"/api/v1/users/{clerk_id}/roles/{granted.json()['id']}", headers=secretary).status_code == 204
    refused = client.get("/api/v1/users", headers=clerk)  # the very next request
    assert refused.status_code == 403, refused.text
    assert [r["role"] for r in client.get("/api/v1/me", headers=clerk).json()["roles"]] == ["section_clerk"]


def test_me_lists_the_same_roles_as_the_user_record(client: TestClient, people: People) -> None:
    """/me builds its roles from the sign-in rows; the user record reads them on its own: they agree."""
    clerk = people.headers("a_section_clerk")
    secretary = people.headers("a_secretary")
    clerk_id = people.users["a_section_clerk"].id
    for role in ("officer", "counter_clerk"):
        granted = client.post(
            f"/api/v1/users/{clerk_id}/roles", json={"role": role, "local_body": people.body_a}, headers=secretary
        )
        assert granted.status_code == 201, granted.text
    mine = client.get("/api/v1/me", headers=clerk).json()["roles"]
    theirs = client.get(f"/api/v1/users/{clerk_id}", headers=secretary).json()["roles"]
    assert len(mine) == 3
    assert mine == theirs


def test_a_revoked_token_and_a_disabled_account_stop_working_at_once(client: TestClient, people: People) -> None:
    headers = people.headers("a_officer")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with people.runtime.db.unit_of_work() as s:
        user = s.get(User, people.users["a_officer"].id)
        assert user is not None
        user.is_active = False
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    with people.runtime.db.unit_of_work() as s:
        user = s.get(User, people.users["a_officer"].id)
        assert user is not None
        user.is_active = True
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401

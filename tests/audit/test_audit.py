"""Every write records who, what, when and from where, in the same transaction."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.audit.models import AuditEvent
from nagara.audit.service import record
from nagara.identity.models import User
from nagara.kit import context
from nagara.runtime import Runtime
from tests.conftest import People


def test_a_write_through_the_api_is_audited_with_actor_and_origin(client: TestClient, people: People, runtime: Runtime) -> None:
    response = client.patch(
        "/api/v1/me",
        json={"name": "Asha"},
        headers={**people.headers("citizen1"), "X-Request-ID": "req-123", "User-Agent": "phone"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-123"
    with runtime.db.unit_of_work() as s:
        ev = s.scalar(select(AuditEvent).where(AuditEvent.action == "users.updated", AuditEvent.request_id == "req-123"))
        assert ev is not None
        assert ev.actor_id == people.users["citizen1"].id
        assert ev.actor_kind == "citizen"
        assert ev.entity_id == people.users["citizen1"].id
        assert ev.ip == "testclient"
        assert ev.user_agent == "phone"
        assert ev.changes == ["name_sealed"]
        assert "Asha" not in str(ev.data)  # values, and so personal data, never enter the audit log


def test_audit_events_roll_back_with_the_change(runtime: Runtime, people: People) -> None:
    token = context.set_context(context.ActorContext(request_id="doomed", actor_kind="system"))
    try:
        with pytest.raises(RuntimeError), runtime.db.unit_of_work() as s:
            user = s.get(User, people.users["a_officer"].id)
            assert user is not None
            user.language = "hi"
            s.flush()
            assert s.scalar(select(AuditEvent.id).where(AuditEvent.request_id == "doomed")) is not None
            raise RuntimeError("the request fails")
    finally:
        context.reset_context(token)
    with runtime.db.unit_of_work() as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.request_id == "doomed")) is None
        user = s.get(User, people.users["a_officer"].id)
        assert user is not None
        assert user.language != "hi"


def test_failed_sign_ins_are_audited(client: TestClient, people: People, runtime: Runtime) -> None:
    client.post("/api/v1/auth/officer", json={"username": "a.officer", "password": "nope nope nope", "totp": "000000"})
    with runtime.db.unit_of_work() as s:
        ev = s.scalar(select(AuditEvent).where(AuditEvent.action == "identity.login.failed"))
        assert ev is not None
        assert ev.entity_id == people.users["a_officer"].id


def test_each_reader_sees_the_events_of_their_jurisdiction(client: TestClient, people: People, runtime: Runtime) -> None:
    """A secretary: their body and what lies within it; an auditor: the whole state; nobody another's."""
    a, b = people.body_a, people.body_b
    places = {"state": "kl", "a": a, "a-ward": f"{a}.w1", "a-longer": f"{a}x", "b": b, "ka": people.body_ka}
    with runtime.db.unit_of_work() as s:
        events = {name: record(s, "test.jurisdiction", tenant_code=code) for name, code in places.items()}
        s.flush()
        ids = {ev.id: name for name, ev in events.items()}

    def seen(reader: str) -> set[str]:
        response = client.get("/api/v1/audit-events?action=test.jurisdiction", headers=people.headers(reader))
        assert response.status_code == 200, response.text
        return {ids[e["id"]] for e in response.json()}

    assert seen("a_secretary") == {"a", "a-ward"}
    assert seen("kl_auditor") == {"state", "a", "a-ward", "a-longer", "b"}
    assert seen("ka_secretary") == {"ka"}
    assert client.get("/api/v1/audit-events", headers=people.headers("a_officer")).status_code == 403
    one = client.get(f"/api/v1/audit-events/{events['b'].id}", headers=people.headers("a_secretary"))
    assert one.status_code == 404
    assert client.get(f"/api/v1/audit-events/{events['b'].id}", headers=people.headers("kl_auditor")).status_code == 200

"""Access comes from the roles held now: an operator whose assisting role is revoked loses what
they filed for citizens, and a clerk whose role is revoked loses the payments they took."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.identity.models import RoleAssignment
from nagara.kit.db import utcnow
from nagara.payments import demands as payments
from nagara.payments.models import Demand
from nagara.payments.service import local_day
from nagara.runtime import Runtime
from tests.applications.helpers import PDF, birth_form
from tests.applications.test_assisted import consent_code
from tests.conftest import People


def _assignment(runtime: Runtime, user_id: str) -> str:
    with runtime.db.unit_of_work(readonly=True) as s:
        return str(s.scalar(select(RoleAssignment.id).where(RoleAssignment.user_id == user_id)))


def _revoke_only_role(client: TestClient, people: People, runtime: Runtime, who: str) -> None:
    user_id = people.users[who].id
    url = f"/api/v1/users/{user_id}/roles/{_assignment(runtime, user_id)}"
    assert client.delete(url, headers=people.headers("a_secretary")).status_code == 204


def _filed_by_operator(client: TestClient, people: People, runtime: Runtime, h: dict[str, str], *, submit: bool) -> Any:
    challenge, code = consent_code(client, people, runtime)
    created = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={
            "service": "birth-registration",
            "data": birth_form(),
            "submit": False,
            "on_behalf_of": {"mobile": "9847066666", "challenge_id": challenge, "code": code},
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    app = created.json()
    doc = None
    for doc_type in ("birth-report", "parent-id"):
        doc = client.post(
            f"/api/v1/applications/{app['number']}/documents",
            data={"type": doc_type},
            files={"file": ("a.pdf", PDF, "application/pdf")},
            headers=h,
        )
        assert doc.status_code == 201, doc.text
    if submit:
        done = client.post(
            f"/api/v1/applications/{app['number']}/actions", json={"action": "submit", "version": app["version"]}, headers=h
        )
        assert done.status_code == 200, done.text
        app = done.json()
    assert doc is not None
    return app, doc.json()["id"]


def _refused(response: Any) -> bool:
    return response.status_code in (403, 404) and response.headers["content-type"].startswith("application/problem+json")


def test_a_revoked_operator_loses_the_applications_they_filed(client: TestClient, people: People, runtime: Runtime) -> None:
    h = people.headers("a_operator")  # one token, used before and after the revocation
    draft, doc_id = _filed_by_operator(client, people, runtime, h, submit=False)
    sent, _ = _filed_by_operator(client, people, runtime, h, submit=True)
    number = draft["number"]
    assert client.get(f"/api/v1/applications/{number}", headers=h).status_code == 200  # the control
    listed = client.get("/api/v1/applications", headers=h).json()
    assert {number, sent["number"]} <= {a["number"] for a in listed}

    _revoke_only_role(client, people, runtime, "a_operator")

    assert client.get("/api/v1/me", headers=h).status_code == 403
    assert _refused(client.get(f"/api/v1/applications/{number}", headers=h))
    assert _refused(client.get(f"/api/v1/applications/{number}/documents/{doc_id}", headers=h))
    edit = client.patch(
        f"/api/v1/applications/{number}", json={"data": birth_form(child_name="Eve"), "version": draft["version"]}, headers=h
    )
    assert _refused(edit), edit.text
    upload = client.post(
        f"/api/v1/applications/{number}/documents",
        data={"type": "parent-id"},
        files={"file": ("b.pdf", PDF, "application/pdf")},
        headers=h,
    )
    assert _refused(upload), upload.text
    submit = client.post(
        f"/api/v1/applications/{number}/actions", json={"action": "submit", "version": draft["version"]}, headers=h
    )
    assert _refused(submit), submit.text
    withdraw = client.post(
        f"/api/v1/applications/{sent['number']}/actions",
        json={"action": "withdraw", "version": sent["version"], "comment": "no longer needed"},
        headers=h,
    )
    assert _refused(withdraw), withdraw.text
    found = client.get("/api/v1/applications", params={"number": number}, headers=h)
    assert found.status_code in (200, 403) and number not in found.text
    assert sent["number"] not in client.get("/api/v1/applications", headers=h).text

    # The citizen keeps their application, and an officer of the body still sees it.
    assert client.get(f"/api/v1/applications/{number}", headers=people.headers("a_officer")).status_code == 200


def test_an_operator_moved_to_another_body_loses_what_they_filed_at_the_first(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    h = people.headers("a_operator")
    draft, _doc = _filed_by_operator(client, people, runtime, h, submit=False)
    moved = client.post(
        f"/api/v1/users/{people.users['a_operator'].id}/roles",
        json={"role": "operator", "local_body": people.body_b},
        headers=people.headers("kl_admin"),
    )
    assert moved.status_code == 201, moved.text
    _revoke_only_role(client, people, runtime, "a_operator")
    assert client.get("/api/v1/me", headers=h).status_code == 200  # still an operator, elsewhere
    assert _refused(client.get(f"/api/v1/applications/{draft['number']}", headers=h))
    edit = client.patch(
        f"/api/v1/applications/{draft['number']}", json={"data": birth_form(), "version": draft["version"]}, headers=h
    )
    assert _refused(edit)


def test_a_revoked_clerk_no_longer_sees_the_payments_they_took(client: TestClient, people: People, runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        payments.register_property(
            s,
            local_body_code=people.body_a,
            assessment_number="NOW/1",
            usage="residential",
            zone=1,
            plinth_area_sqm=100,
            owner_id=people.users["citizen1"].id,
        )
        payments.raise_property_demands(s, people.body_a)
        demand = s.scalars(select(Demand).where(Demand.local_body_code == people.body_a)).first()
        assert demand is not None
        number = demand.number
        amount = payments.amount_due(s, demand, local_day(s, "kl", utcnow()))[0]
    h = people.headers("a_counter_clerk")
    taken = client.post(f"/api/v1/demands/{number}/counter-payments", json={"method": "cash", "amount": amount}, headers=h)
    assert taken.status_code == 201, taken.text
    payment = taken.json()["payment"]
    receipt = taken.json()["number"]
    assert client.get(f"/api/v1/payments/{payment}", headers=h).status_code == 200

    _revoke_only_role(client, people, runtime, "a_counter_clerk")

    assert _refused(client.get(f"/api/v1/payments/{payment}", headers=h))
    assert _refused(client.get(f"/api/v1/receipts/{receipt}", headers=h))
    assert _refused(client.get(f"/api/v1/demands/{number}", headers=h))
    assert client.get(f"/api/v1/payments/{payment}", headers=people.headers("citizen1")).status_code == 200

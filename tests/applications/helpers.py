"""Shared steps for the application tests: sign in, apply, upload, act, move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import People

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b" " * 2000
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64


def birth_form(**changes: Any) -> dict[str, Any]:
    form = {
        "child_name": "Anna",
        "sex": "female",
        "date_of_birth": (datetime.now(UTC).date() - timedelta(days=3)).isoformat(),
        "place_of_birth": "hospital",
        "hospital_name": "SAT Hospital",
        "mother_name": "Mary",
        "informant_relation": "mother",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def apply(
    client: TestClient,
    people: People,
    who: str,
    body: str,
    service: str,
    data: dict[str, Any],
    *,
    submit: bool = True,
    status: int = 201,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/tenants/{body}/applications",
        json={"service": service, "data": data, "submit": submit},
        headers=people.headers(who),
    )
    assert response.status_code == status, response.text
    return response.json()


def upload(
    client: TestClient,
    people: People,
    who: str,
    number: str,
    doc_type: str,
    content: bytes = PDF,
    name: str = "doc.pdf",
    mime: str = "application/pdf",
    status: int = 201,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/applications/{number}/documents",
        data={"type": doc_type},
        files={"file": (name, content, mime)},
        headers=people.headers(who),
    )
    assert response.status_code == status, response.text
    return response.json()


def act(
    client: TestClient, people: People, who: str, app: dict[str, Any], action: str, comment: str | None = None, status: int = 200
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": action, "version": app["version"], "comment": comment},
        headers=people.headers(who),
    )
    assert response.status_code == status, response.text
    return response.json()


def fetch(client: TestClient, people: People, who: str, number: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/applications/{number}", headers=people.headers(who))
    assert response.status_code == 200, response.text
    return response.json()


def pay_at_counter(client: TestClient, people: People, clerk: str, number: str) -> dict[str, Any]:
    """The counter clerk takes an application's fee in cash against its demand; the receipt marks the fee paid."""
    headers = people.headers(clerk)
    (demand,) = client.get("/api/v1/demands", params={"application": number}, headers=headers).json()
    paid = client.post(
        f"/api/v1/demands/{demand['number']}/counter-payments",
        json={"method": "cash", "amount": demand["amount_due_today"]},
        headers=headers,
    )
    assert paid.status_code == 201, paid.text
    after = fetch(client, people, clerk, number)
    assert after["fee_paid"] is True
    return after

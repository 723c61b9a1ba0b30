"""Assisted access: the citizen's consent is a code sent for one operator, one service, one body."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.applications.models import Application
from nagara.runtime import Runtime
from nagara.worker.runner import Worker
from tests.applications.helpers import birth_form
from tests.conftest import People

MOBILE = "9847066666"


def consent_code(
    client: TestClient, people: People, runtime: Runtime, who: str = "a_operator", service: str = "birth-registration"
) -> tuple[str, str]:
    response = client.post(
        f"/api/v1/tenants/{people.body_a}/consent-codes",
        json={"service": service, "mobile": MOBILE},
        headers=people.headers(who),
    )
    assert response.status_code == 201, response.text
    Worker(runtime.db).run_until_idle()
    # The worker also sends the messages of earlier steps (to other people): take the last one sent to this number.
    to_this = [text for to, text in runtime.sms.sent if to == "+91" + MOBILE]  # type: ignore[attr-defined]
    assert to_this, runtime.sms.sent  # type: ignore[attr-defined]
    text = to_this[-1]
    match = re.match(r"(\d+) is your consent code", text)
    assert match, text
    return response.json()["challenge_id"], match.group(1)


def apply_for(
    client: TestClient, people: People, who: str, challenge: str, code: str, service: str = "birth-registration"
) -> Any:
    return client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={
            "service": service,
            "data": birth_form() if service == "birth-registration" else {},
            "submit": False,
            "on_behalf_of": {"mobile": MOBILE, "challenge_id": challenge, "code": code},
        },
        headers=people.headers(who),
    )


def applications(runtime: Runtime) -> int:
    with runtime.db.unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(Application)) or 0)


def test_the_sms_says_who_asks_and_for_what(client: TestClient, people: People, runtime: Runtime) -> None:
    consent_code(client, people, runtime)
    text = runtime.sms.sent[-1][1]  # type: ignore[attr-defined]
    assert "Birth registration" in text and "on your behalf" in text


def test_a_consent_code_cannot_sign_in(client: TestClient, people: People, runtime: Runtime) -> None:
    challenge, code = consent_code(client, people, runtime)
    response = client.post(
        "/api/v1/auth/otp/verify", json={"state": "kl", "mobile": MOBILE, "challenge_id": challenge, "code": code}
    )
    assert response.status_code == 422
    assert "consent code" in response.json()["errors"][0]["msg"]
    assert apply_for(client, people, "a_operator", challenge, code).status_code == 201  # still good for consent


def test_a_sign_in_code_is_no_consent(client: TestClient, people: People, runtime: Runtime) -> None:
    challenge = client.post("/api/v1/auth/otp", json={"state": "kl", "mobile": MOBILE}).json()["challenge_id"]
    Worker(runtime.db).run_until_idle()
    code = re.match(r"(\d+)", runtime.sms.sent[-1][1]).group(1)  # type: ignore[attr-defined, union-attr]
    before = applications(runtime)
    response = apply_for(client, people, "a_operator", challenge, code)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "code"]
    assert applications(runtime) == before


def test_consent_is_for_one_operator_and_one_service(client: TestClient, people: People, runtime: Runtime) -> None:
    challenge, code = consent_code(client, people, runtime)
    before = applications(runtime)
    other_operator = apply_for(client, people, "a_counter_clerk", challenge, code)
    assert other_operator.status_code == 422, other_operator.text
    other_service = apply_for(client, people, "a_operator", challenge, code, service="death-registration")
    assert other_service.status_code == 422, other_service.text
    assert applications(runtime) == before
    assert apply_for(client, people, "a_operator", challenge, code).status_code == 201


def test_only_assisting_roles_of_the_body_may_ask(client: TestClient, people: People) -> None:
    url = f"/api/v1/tenants/{people.body_a}/consent-codes"
    body = {"service": "birth-registration", "mobile": MOBILE}
    for who in ("b_operator", "a_section_clerk", "citizen1", "ka_secretary"):
        assert client.post(url, json=body, headers=people.headers(who)).status_code == 403, who
    state_wide = client.post("/api/v1/tenants/kl/consent-codes", json=body, headers=people.headers("a_operator"))
    assert state_wide.status_code == 422
    bad_mobile = client.post(url, json={**body, "mobile": "12345"}, headers=people.headers("a_operator"))
    assert bad_mobile.status_code == 422 and bad_mobile.json()["errors"][0]["loc"] == ["body", "mobile"]


def test_the_consent_sms_is_in_the_language_of_the_request(client: TestClient, people: People, runtime: Runtime) -> None:
    response = client.post(
        f"/api/v1/tenants/{people.body_a}/consent-codes",
        json={"service": "birth-registration", "mobile": MOBILE},
        headers={**people.headers("a_operator"), "Accept-Language": "hi"},
    )
    assert response.status_code == 201, response.text
    Worker(runtime.db).run_until_idle()
    _to, text = runtime.sms.sent[-1]  # type: ignore[attr-defined]
    assert re.match(r"\d+ आपका सहमति कोड है: ", text), text
    assert "जन्म पंजीकरण" in text  # the service's Hindi name, from the pack
    assert "consent code" not in text and "Birth registration" not in text

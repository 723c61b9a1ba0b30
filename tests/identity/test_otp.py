"""Citizen sign-in by one-time code: hashed, expiring, limited attempts, rate-limited."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.identity import service as identity_service
from nagara.identity.models import OtpChallenge
from nagara.identity.views import SIGN_IN_SMS
from nagara.kit.db import utcnow
from nagara.kit.sms import ConsoleSms
from nagara.runtime import Runtime
from nagara.web.i18n import translations
from nagara.worker.runner import Worker

MOBILE = "98470 12345"


def ask(client: TestClient, mobile: str = MOBILE) -> dict:
    response = client.post("/api/v1/auth/otp", json={"state": "kl", "mobile": mobile})
    assert response.status_code == 201, response.text
    return response.json()


def delivered_code(runtime: Runtime) -> str:
    Worker(runtime.db).run_until_idle()
    assert isinstance(runtime.sms, ConsoleSms)
    _to, text = runtime.sms.sent[-1]
    match = re.match(r"(\d{6}) is your Nagara sign-in code", text)
    assert match, text
    return match.group(1)


def verify(client: TestClient, challenge: dict, code: str, mobile: str = MOBILE):
    return client.post(
        "/api/v1/auth/otp/verify",
        json={"state": "kl", "challenge_id": challenge["challenge_id"], "mobile": mobile, "code": code},
    )


def test_code_is_sent_by_sms_and_signs_the_citizen_in(client: TestClient, runtime: Runtime) -> None:
    challenge = ask(client)
    code = delivered_code(runtime)
    assert runtime.sms.sent[-1][0] == "+919847012345"  # type: ignore[attr-defined]
    response = verify(client, challenge, code)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["kind"] == "citizen"
    assert me["mobile"] == "+919847012345"
    assert [r["role"] for r in me["roles"]] == ["citizen"]
    # The same number signs in to the same account next time.
    again = ask(client)
    second = verify(client, again, delivered_code(runtime)).json()
    assert second["user_id"] == me["id"]


def test_only_a_hash_of_the_code_is_stored(client: TestClient, runtime: Runtime) -> None:
    challenge = ask(client)
    code = delivered_code(runtime)
    with runtime.db.unit_of_work() as s:
        row = s.get(OtpChallenge, challenge["challenge_id"])
        assert row is not None
        assert code not in row.code_hash
        assert len(row.code_hash) == 64


def test_a_code_works_once(client: TestClient, runtime: Runtime) -> None:
    challenge = ask(client)
    code = delivered_code(runtime)
    assert verify(client, challenge, code).status_code == 200
    reused = verify(client, challenge, code)
    assert reused.status_code == 422
    assert "already used" in reused.text


def test_an_expired_code_is_refused(client: TestClient, runtime: Runtime) -> None:
    challenge = ask(client)
    code = delivered_code(runtime)
    with runtime.db.unit_of_work() as s:
        row = s.get(OtpChallenge, challenge["challenge_id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    response = verify(client, challenge, code)
    assert response.status_code == 422
    assert "expired" in response.text


def test_wrong_codes_are_counted_and_exhaust_the_challenge(client: TestClient, runtime: Runtime) -> None:
    challenge = ask(client)
    code = delivered_code(runtime)
    wrong = "000000" if code != "000000" else "111111"
    limit = runtime.settings.otp_max_attempts
    for attempt in range(1, limit):
        response = verify(client, challenge, wrong)
        assert response.status_code == 422
        assert f"{limit - attempt} attempt(s) left" in response.json()["errors"][0]["msg"]
    assert verify(client, challenge, wrong).status_code == 429
    # Even the right code is refused now: the attempts were kept although each request failed.
    final = verify(client, challenge, code)
    assert final.status_code == 429
    with runtime.db.unit_of_work() as s:
        row = s.get(OtpChallenge, challenge["challenge_id"])
        assert row is not None
        assert row.attempts == limit
        assert row.consumed_at is None


def test_codes_per_number_are_limited(client: TestClient, runtime: Runtime) -> None:
    for _ in range(runtime.settings.otp_per_number_per_hour):
        ask(client)
    refused = client.post("/api/v1/auth/otp", json={"state": "kl", "mobile": MOBILE})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "3600"
    assert refused.headers["content-type"].startswith("application/problem+json")
    # Another number from the same address still gets a code.
    ask(client, mobile="9847099999")


def test_codes_per_address_are_limited(client: TestClient, runtime: Runtime) -> None:
    limit = runtime.settings.otp_per_address_per_hour
    for i in range(limit):
        ask(client, mobile=f"98471{i:05d}")
    refused = client.post("/api/v1/auth/otp", json={"state": "kl", "mobile": "9847200000"})
    assert refused.status_code == 429
    assert "network address" in refused.json()["detail"]
    with runtime.db.unit_of_work() as s:
        assert len(list(s.scalars(select(OtpChallenge.id)))) == limit


def test_bad_numbers_say_what_is_allowed(client: TestClient) -> None:
    response = client.post("/api/v1/auth/otp", json={"state": "kl", "mobile": "12345"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["loc"] == ["body", "mobile"]
    assert "10-digit Indian mobile number" in body["errors"][0]["msg"]
    unknown_state = client.post("/api/v1/auth/otp", json={"state": "zz", "mobile": "9847000000"})
    assert unknown_state.status_code == 422
    assert unknown_state.json()["errors"][0]["loc"] == ["body", "state"]


def test_the_code_is_sent_in_the_language_of_the_request(client: TestClient, runtime: Runtime) -> None:
    assert identity_service.SIGN_IN_SMS == SIGN_IN_SMS  # the English default is the catalogs' msgid
    for lang, mobile in (("hi", "98470 12001"), ("ml", "98470 12002"), ("kn", "98470 12003")):
        response = client.post("/api/v1/auth/otp", json={"state": "kl", "mobile": mobile}, headers={"Accept-Language": lang})
        assert response.status_code == 201, response.text
        Worker(runtime.db).run_until_idle()
        _to, text = runtime.sms.sent[-1]  # type: ignore[attr-defined]
        code = re.match(r"(\d{6}) ", text)
        assert code, text
        expected = translations(lang).gettext(SIGN_IN_SMS)
        assert expected != SIGN_IN_SMS
        assert text == expected % {"code": code.group(1), "minutes": runtime.settings.otp_ttl_seconds // 60}
        assert "sign-in code" not in text

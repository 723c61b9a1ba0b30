"""Messages from workflow steps, through real channels on loopback: SMTP (aiosmtpd with STARTTLS and
AUTH) and an SMS provider over HTTP; receipts, retries, quiet hours, rollback."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.kit.mail import SmtpMail
from nagara.kit.sms import HttpSms
from nagara.kit.smstext import segments
from nagara.kit.whatsapp import CloudWhatsApp
from nagara.notifications import service
from nagara.notifications.models import Notification
from nagara.runtime import Runtime
from nagara.worker.models import Job
from nagara.worker.runner import Worker
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.certificates.helpers import approved_birth
from tests.conftest import People
from tests.notifications.fakes import SMTP_PASSWORD, SMTP_USER, Mailbox, Provider, provider, smtp_server
from tests.notifications.helpers import deliver, messages, quiet_hours, set_channels, set_language

NOON_IST = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)  # 12:00 in Kolkata: outside the packs' quiet hours


@pytest.fixture(autouse=True)
def daytime(runtime: Runtime, people: People) -> None:
    """Quiet hours that do not hold the present moment (the quiet-hours test sets its own)."""
    quiet_hours(runtime, "kl", now_inside=False)


@pytest.fixture
def mailbox(runtime: Runtime, tmp_path: Path) -> Iterator[Mailbox]:
    with smtp_server(tmp_path) as box:
        before = runtime.mail
        runtime.mail = SmtpMail(
            host="127.0.0.1",
            port=box.port,
            sender="no-reply@kl.example.gov.in",
            username=SMTP_USER,
            password=SMTP_PASSWORD,
            starttls=True,
            tls_context=box.client_tls(),
        )
        yield box
        runtime.mail = before


@pytest.fixture
def sms(runtime: Runtime) -> Iterator[Provider]:
    with provider() as fake:
        before = runtime.sms
        runtime.sms = HttpSms(f"{fake.url}/v1/sms", "provider-token", "NAGARA")
        yield fake
        runtime.sms = before


def test_an_approval_in_malayalam_is_mailed_in_malayalam_with_the_certificate_link(
    client: TestClient, people: People, runtime: Runtime, mailbox: Mailbox
) -> None:
    set_language(client, people, "citizen1", "ml")
    set_channels(client, people, "citizen1", ["email"], email="lakshmi@example.in")
    app = approved_birth(client, people)
    assert app["outcome"] == "approved"
    deliver(runtime)

    [mail] = [m for m in mailbox.received if str(m["Subject"]) == f"അപേക്ഷ {app['number']} അംഗീകരിച്ചു"]
    assert str(mail["To"]) == "lakshmi@example.in"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    link = f"{runtime.settings.base_url}/api/v1/applications/{app['number']}/certificate.pdf"
    assert text.strip() == f"അപേക്ഷ {app['number']} അംഗീകരിച്ചു. സർട്ടിഫിക്കറ്റ്: {link}"
    assert f'<a href="{link}">' in html
    assert mailbox.logins == [SMTP_USER] * len(mailbox.received)  # authenticated every time
    assert all(mailbox.tls_used)  # after STARTTLS
    approved = [n for n in messages(runtime, app["number"]) if n.event == "approved"]
    assert {(n.channel, n.status, n.language) for n in approved} == {("email", "delivered", "ml"), ("portal", "delivered", "ml")}


def test_a_kannada_sms_reaches_the_provider_as_ucs2_with_its_segments_and_dlt_template(
    client: TestClient, people: People, runtime: Runtime, sms: Provider
) -> None:
    set_language(client, people, "citizen1", "kn")
    app = approved_birth(client, people)
    deliver(runtime)
    sent = [r["body"] for r in sms.requests if app["number"] in r["body"]["text"] and "ಅನುಮೋದಿಸಲಾಗಿದೆ" in r["body"]["text"]]
    assert sent, sms.requests
    body = sent[0]
    assert body["to"] == "+919847000001"
    assert body["sender"] == "KLLSGD"
    assert body["dlt_entity_id"] == "1101000000000000032"
    assert body["dlt_template_id"] == "1107000000000000005"  # packs/kl/notifications.yaml, approved
    assert body["encoding"] == "UCS-2"
    assert body["segments"] == segments(body["text"]).count == -(-len(body["text"]) // 67)
    assert body["segments"] >= 2


def _sign(runtime: Runtime, body: bytes) -> str:
    return hmac.new(service.receipt_key(runtime), body, hashlib.sha256).hexdigest()


def test_a_signed_receipt_marks_the_sms_delivered_and_a_forged_one_is_refused(
    client: TestClient, people: People, runtime: Runtime, sms: Provider
) -> None:
    app = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", app["number"], code)
    act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "submit")
    deliver(runtime)
    [row] = [n for n in messages(runtime, app["number"]) if n.channel == "sms"]
    assert row.status == "sending" and row.provider_id
    body = json.dumps({"id": row.provider_id, "status": "delivered"}).encode()
    forged = client.post("/api/v1/notifications/receipts/sms", content=body, headers={"X-Signature": "0" * 64})
    assert forged.status_code == 422
    assert "signature" in forged.json()["detail"]
    good = client.post("/api/v1/notifications/receipts/sms", content=body, headers={"X-Signature": _sign(runtime, body)})
    assert good.status_code == 200, good.text
    assert good.json() == {"id": row.id, "status": "delivered"}
    [after] = [n for n in messages(runtime, app["number"]) if n.channel == "sms"]
    assert after.status == "delivered" and after.delivered_at is not None
    unknown = json.dumps({"id": "nope", "status": "delivered"}).encode()
    assert (
        client.post(
            "/api/v1/notifications/receipts/sms", content=unknown, headers={"X-Signature": _sign(runtime, unknown)}
        ).status_code
        == 404
    )


def _submitted(client: TestClient, people: People) -> str:
    app = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", app["number"], code)
    act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "submit")
    return str(app["number"])


def _sms_row(runtime: Runtime, number: str) -> Notification:
    [row] = [n for n in messages(runtime, number) if n.channel == "sms"]
    return row


def _run_send_jobs(runtime: Runtime) -> None:
    """Run the send jobs now, even those waiting for their backoff."""
    with runtime.db.unit_of_work() as s:
        for job in s.scalars(select(Job).where(Job.name == "notifications.send", Job.status == "pending")):
            job.run_after = datetime(2000, 1, 1, tzinfo=UTC)
    Worker(runtime.db).run_until_idle()


def test_a_temporary_failure_is_retried_and_a_permanent_one_is_not(
    client: TestClient, people: People, runtime: Runtime, sms: Provider
) -> None:
    sms.answers = [503]
    first = _submitted(client, people)
    deliver(runtime)
    row = _sms_row(runtime, first)
    assert (row.status, row.attempts) == ("temporary-failure", 1)
    assert row.next_attempt_at is not None and row.next_attempt_at > row.created_at
    _run_send_jobs(runtime)
    row = _sms_row(runtime, first)
    assert (row.status, row.attempts) == ("sending", 2)
    assert len(sms.delivered) == 1

    sms.answers = [400]
    second = _submitted(client, people)
    deliver(runtime)
    row = _sms_row(runtime, second)
    assert (row.status, row.attempts, row.next_attempt_at) == ("permanent-failure", 1, None)
    requests_before = len(sms.requests)
    _run_send_jobs(runtime)
    assert len(sms.requests) == requests_before  # not tried again
    assert _sms_row(runtime, second).status == "permanent-failure"


def test_a_permanent_sms_failure_falls_back_to_e_mail(
    client: TestClient, people: People, runtime: Runtime, sms: Provider, mailbox: Mailbox
) -> None:
    set_channels(client, people, "citizen1", ["sms", "email"], email="lakshmi@example.in")
    sms.answers = [400]
    number = _submitted(client, people)
    deliver(runtime)
    Worker(runtime.db).run_until_idle()
    rows = {n.channel: n for n in messages(runtime, number)}
    assert rows["sms"].status == "permanent-failure"
    assert rows["email"].status == "delivered" and rows["email"].fallback_of == rows["sms"].id
    assert [m for m in mailbox.received if number in str(m["Subject"])]


def test_a_rolled_back_step_sends_nothing(client: TestClient, people: People, runtime: Runtime, sms: Provider) -> None:
    app = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    # Submitting without the documents fails: the step is rolled back, its history entry with it.
    refused = client.post(
        f"/api/v1/applications/{app['number']}/actions",
        json={"action": "submit", "version": app["version"]},
        headers=people.headers("citizen1"),
    )
    assert refused.status_code in (409, 422), refused.text
    deliver(runtime)
    assert messages(runtime, app["number"]) == []
    assert [r for r in sms.requests if app["number"] in r["body"]["text"]] == []


def test_quiet_hours_hold_a_non_urgent_sms_but_not_a_sign_in_code(
    client: TestClient, people: People, runtime: Runtime, sms: Provider
) -> None:
    quiet_hours(runtime, "kl", now_inside=True)
    number = _submitted(client, people)
    deliver(runtime)
    row = _sms_row(runtime, number)
    assert row.status == "created" and row.attempts == 0
    assert row.next_attempt_at is not None and row.next_attempt_at > row.created_at + timedelta(minutes=90)
    assert [r for r in sms.requests if number in r["body"]["text"]] == []  # held until the quiet hours end
    with runtime.db.unit_of_work() as s:
        [job] = s.scalars(select(Job).where(Job.name == "notifications.send", Job.payload["id"].as_string() == row.id))
        assert job.run_after == row.next_attempt_at
    # the sign-in code goes at once
    response = client.post("/api/v1/auth/otp", json={"mobile": "9847000009", "state": "kl"})
    assert response.status_code == 201, response.text
    Worker(runtime.db).run_until_idle()
    assert [r["body"]["to"] for r in sms.requests] == ["+919847000009"]


def test_the_quiet_window_ends_in_the_state_s_morning() -> None:
    doc = {"quiet_hours": {"from": "21:00", "until": "08:00"}}
    kolkata = ZoneInfo("Asia/Kolkata")
    night = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)  # 22:30 in Kolkata
    assert service.quiet_until(doc, kolkata, night) == datetime(2026, 12, 7, 2, 30, tzinfo=UTC)  # 08:00
    early = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 06:30 in Kolkata
    assert service.quiet_until(doc, kolkata, early) == datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
    assert service.quiet_until(doc, kolkata, NOON_IST) == NOON_IST


def test_whatsapp_sends_the_approved_template_with_its_parameters(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    with provider() as cloud:
        runtime.whatsapp = CloudWhatsApp(cloud.url, "106540352242922", "cloud-token")
        try:
            set_language(client, people, "citizen1", "hi")
            set_channels(client, people, "citizen1", ["whatsapp", "sms"])
            app = approved_birth(client, people)
            deliver(runtime)
        finally:
            runtime.whatsapp = None
    approved = [r for r in cloud.requests if r["body"]["template"]["name"] == "nagara_approved"]
    assert len(approved) == 1
    request = approved[0]
    assert request["headers"]["Authorization"] == "Bearer cloud-token"
    body = request["body"]
    assert body["messaging_product"] == "whatsapp" and body["type"] == "template"
    assert body["to"] == "919847000001"
    assert body["template"]["language"] == {"code": "hi"}
    link = f"{runtime.settings.base_url}/api/v1/applications/{app['number']}/certificate.pdf"
    assert body["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": app["number"]}, {"type": "text", "text": link}]}
    ]
    rows = {n.channel: n for n in messages(runtime, app["number"]) if n.event == "approved"}
    assert rows["whatsapp"].status == "sending" and rows["whatsapp"].provider_id == cloud.delivered[rows["whatsapp"].id]["id"]
    assert "sms" not in rows  # one outside channel at a time: SMS is the fallback

"""Consent records: a signed artefact with its hash on the ledger; withdrawal as easy, at once, recorded the same way."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.exchange import service as exchange
from nagara.exchange.models import Consent as ExchangeConsent
from nagara.kit.db import clock_set_to, utcnow
from nagara.ledger import integrator
from nagara.ledger.models import LogEntry, PendingEntry
from nagara.privacy import consent
from nagara.privacy.models import ConsentRecord
from nagara.runtime import Runtime
from tests.certificates.helpers import approved_birth, certificate
from tests.conftest import People
from tests.exchange.helpers import PEER, new_peer, register
from tests.officer.helpers import csrf_of, sign_in


def _integrate(runtime: Runtime) -> None:
    runtime.settings.ledger_origin = "ledger.privacy.test/v1"
    with runtime.db.unit_of_work() as s:
        integrator.integrate(s, runtime.settings)


def _row(runtime: Runtime, consent_id: str) -> ConsentRecord:
    with runtime.db.unit_of_work(readonly=True) as s:
        row = s.get(ConsentRecord, consent_id)
        assert row is not None
        s.expunge(row)
        return row


def test_a_consent_is_a_signed_artefact_on_the_ledger_and_its_withdrawal_too(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    citizen = people.headers("citizen1")
    given = client.post("/api/v1/me/consents", json={"purpose": "analytics.research", "days": 30}, headers=citizen)
    assert given.status_code == 201, given.text
    body = given.json()
    detail = body["artefact"]["ConsentDetail"]
    assert body["status"] == "active" and body["fiduciary"] == "kl"
    assert detail["DataPrincipal"]["id"] == people.users["citizen1"].id
    assert detail["DataFiduciary"] == {"id": "kl", "type": "STATE"}
    assert detail["Purpose"]["code"] == "analytics.research" and detail["DataItems"]
    assert detail["ConsentGiven"]["via"] == "api" and detail["revocable"] is True
    # The JWS carries exactly the artefact, signed with EdDSA.
    header, payload, _sig = body["signed"].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["alg"] == "EdDSA"
    assert json.loads(base64.urlsafe_b64decode(payload + "===")) == body["artefact"]

    checked = client.get(f"/api/v1/me/consents/{body['id']}", headers=citizen).json()["verified"]
    assert checked == {"signature": True, "on_ledger": True, "withdrawal_signature": None, "withdrawal_on_ledger": None}
    with runtime.db.unit_of_work(readonly=True) as s:
        entry = s.scalar(select(PendingEntry).where(PendingEntry.subject == f"consent/{body['id']}"))
        assert entry is not None and entry.type == consent.GIVEN
        assert body["sha256"] not in entry.body.decode()  # the ledger holds a salted hash of it, not the hash itself
        assert consent.active(s, people.users["citizen1"].id, "analytics.research") is not None

    # Integrated into the tree: the entry read back from its tile still commits to the artefact.
    _integrate(runtime)
    with runtime.db.unit_of_work(readonly=True) as s:
        assert s.scalar(select(LogEntry.idx).where(LogEntry.subject == f"consent/{body['id']}")) is not None
        row = s.get(ConsentRecord, body["id"])
        assert row is not None
        assert consent.verify(s, row).on_ledger is True

    # Someone else cannot read or withdraw it; an officer gives no consent for a citizen.
    assert client.delete(f"/api/v1/me/consents/{body['id']}", headers=people.headers("citizen2")).status_code == 404
    assert client.get(f"/api/v1/me/consents/{body['id']}", headers=people.headers("citizen2")).status_code == 404
    officer = client.post(
        "/api/v1/me/consents", json={"purpose": "analytics.research"}, headers=people.headers("a_section_clerk")
    )
    assert officer.status_code == 403

    withdrawn = client.delete(f"/api/v1/me/consents/{body['id']}", headers=citizen)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawal"]["status"] == "REVOKED"
    assert withdrawn.json()["withdrawal"]["consentSha256"] == body["sha256"]
    with runtime.db.unit_of_work(readonly=True) as s:  # effective at once
        assert consent.active(s, people.users["citizen1"].id, "analytics.research") is None
    checked = client.get(f"/api/v1/me/consents/{body['id']}", headers=citizen).json()["verified"]
    assert checked == {"signature": True, "on_ledger": True, "withdrawal_signature": True, "withdrawal_on_ledger": True}
    again = client.delete(f"/api/v1/me/consents/{body['id']}", headers=citizen).json()
    assert again["withdrawn_at"] == withdrawn.json()["withdrawn_at"]  # twice changes nothing
    with runtime.db.unit_of_work(readonly=True) as s:
        subject = f"consent/{body['id']}"
        pending = list(s.scalars(select(PendingEntry.type).where(PendingEntry.subject == subject)))
        assert pending == [consent.WITHDRAWN]


def test_a_changed_artefact_no_longer_verifies(client: TestClient, people: People, runtime: Runtime) -> None:
    given = client.post("/api/v1/me/consents", json={"purpose": "notifications.channel"}, headers=people.headers("citizen1"))
    consent_id = given.json()["id"]
    with runtime.db.unit_of_work() as s:
        row = s.get(ConsentRecord, consent_id)
        assert row is not None
        row.artefact = {
            **row.artefact,
            "ConsentDetail": {**row.artefact["ConsentDetail"], "consentExpiry": "2099-01-01T00:00:00Z"},
        }
    with runtime.db.unit_of_work(readonly=True) as s:
        row = s.get(ConsentRecord, consent_id)
        assert row is not None
        assert consent.verify(s, row).signature is False
        s.expunge(row)
        row.sha256 = "0" * 64  # a hash other than the one recorded: no ledger entry commits to it
        assert consent.verify(s, row).on_ledger is False


def test_a_consent_lapses_at_its_expiry(client: TestClient, people: People, runtime: Runtime) -> None:
    given = client.post(
        "/api/v1/me/consents", json={"purpose": "analytics.research", "days": 2}, headers=people.headers("citizen1")
    )
    with runtime.db.unit_of_work(readonly=True) as s:
        user = people.users["citizen1"].id
        with clock_set_to(utcnow() + timedelta(days=1)):
            assert consent.active(s, user, "analytics.research") is not None
        with clock_set_to(utcnow() + timedelta(days=3)):
            assert consent.active(s, user, "analytics.research") is None
            row = s.get(ConsentRecord, given.json()["id"])
            assert row is not None and consent.status(row) == "expired"


def test_invalid_consents_are_refused(client: TestClient, people: People) -> None:
    citizen = people.headers("citizen1")
    bad = client.post("/api/v1/me/consents", json={"purpose": "marketing"}, headers=citizen)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["purpose"]
    other_state = client.post("/api/v1/me/consents", json={"purpose": "analytics.research", "fiduciary": "ka"}, headers=citizen)
    assert other_state.status_code == 422 and other_state.json()["errors"][0]["loc"] == ["fiduciary"]
    body = client.post("/api/v1/me/consents", json={"purpose": "analytics.research", "fiduciary": people.body_a}, headers=citizen)
    assert body.status_code == 201 and body.json()["artefact"]["ConsentDetail"]["DataFiduciary"]["type"] == "LOCAL_BODY"
    assert (
        client.post("/api/v1/me/consents", json={"purpose": "analytics.research", "days": 0}, headers=citizen).status_code == 422
    )


def test_sharing_through_the_exchange_is_recorded_and_withdrawn_from_either_side(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    with runtime.db.unit_of_work() as s:
        exchange.rotate_own_key(s)
    register(runtime, new_peer())
    number = certificate(client, people, "citizen1", approved_birth(client, people)["number"])["number"]
    citizen = people.headers("citizen1")
    grant = {"member": PEER, "service": "certificate-credential", "resource": number, "purpose": "service-application"}

    shared = client.post("/api/v1/exchange/consents", json=grant, headers=citizen).json()["id"]
    records = client.get("/api/v1/me/consents", headers=citizen).json()
    assert len(records) == 1
    mine = records[0]
    assert mine["purpose"] == "exchange.share" and mine["recipient"] == PEER and mine["status"] == "active"
    assert mine["artefact"]["ConsentDetail"]["source"] == f"exchange:{shared}"
    assert number in mine["artefact"]["ConsentDetail"]["DataItems"][0]
    checked = client.get(f"/api/v1/me/consents/{mine['id']}", headers=citizen).json()["verified"]
    assert checked["signature"] and checked["on_ledger"]

    # Withdrawn on the consents page: the exchange refuses the member from now on.
    client.delete(f"/api/v1/me/consents/{mine['id']}", headers=citizen).raise_for_status()
    with runtime.db.unit_of_work(readonly=True) as s:
        row = s.get(ExchangeConsent, shared)
        assert row is not None and row.withdrawn_at is not None

    # Withdrawn at the exchange: the artefact's withdrawal is recorded.
    second = client.post("/api/v1/exchange/consents", json=grant, headers=citizen).json()["id"]
    client.delete(f"/api/v1/exchange/consents/{second}", headers=citizen).raise_for_status()
    records = {r["artefact"]["ConsentDetail"]["source"]: r for r in client.get("/api/v1/me/consents", headers=citizen).json()}
    assert records[f"exchange:{second}"]["status"] == "withdrawn"
    check = client.get(f"/api/v1/me/consents/{records[f'exchange:{second}']['id']}", headers=citizen).json()["verified"]
    assert check["withdrawal_signature"] and check["withdrawal_on_ledger"]


def test_the_consents_page_gives_and_withdraws(client: TestClient, people: People, runtime: Runtime) -> None:
    sign_in(client, people, "citizen1")
    page = client.get("/my/data/consents")
    assert page.status_code == 200 and "You have given no consent." in page.text
    csrf = csrf_of(page.text)
    given = client.post("/my/data/consents", data={"csrf_token": csrf, "purpose": "analytics.research"}, follow_redirects=False)
    assert given.status_code == 303
    page = client.get(given.headers["location"])
    assert "Your consent is recorded." in page.text and "In force" in page.text
    with runtime.db.unit_of_work(readonly=True) as s:
        row = s.scalars(select(ConsentRecord)).one()
        assert row.given_via == "portal"
    done = client.post(f"/my/data/consents/{row.id}/withdraw", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "It ends now." in page.text and "Withdraw this consent" not in page.text
    assert _row(runtime, row.id).withdrawn_via == "portal"


@pytest.mark.parametrize(
    ("lang", "title"),
    [("ml", "എന്റെ സമ്മതങ്ങൾ"), ("kn", "ನನ್ನ ಸಮ್ಮತಿಗಳು"), ("hi", "मेरी सहमतियाँ"), ("ur", "میری رضامندیاں")],
)
def test_the_consents_page_in_each_language(client: TestClient, people: People, lang: str, title: str) -> None:
    sign_in(client, people, "citizen1")
    client.post("/api/v1/me/consents", json={"purpose": "analytics.research"}, headers=people.headers("citizen1"))
    page = client.get("/my/data/consents", headers={"Accept-Language": lang})
    assert page.status_code == 200
    assert f"<h1>{title}</h1>" in page.text
    assert "Withdraw this consent" not in page.text

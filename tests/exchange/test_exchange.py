"""The signed exchange on one node, with the test as the other member: admission, refusals, consent, the log."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver
from prometheus_client import REGISTRY
from sqlalchemy import select

from nagara.exchange import httpsig, service
from nagara.exchange.models import LogRecord
from nagara.kit.db import utcnow
from nagara.ledger.models import PendingEntry
from nagara.payments.models import Demand, Property
from nagara.runtime import Runtime
from tests.certificates.helpers import approved_birth, certificate
from tests.conftest import People
from tests.exchange.helpers import PEER, Peer, kept, new_peer, register, signed

pytestmark = pytest.mark.usefixtures("node_key")


@pytest.fixture
def node_key(runtime: Runtime) -> str:
    with runtime.db.unit_of_work() as s:
        return service.rotate_own_key(s).key_id


@pytest.fixture
def peer(runtime: Runtime) -> Peer:
    p = new_peer()
    register(runtime, p)
    return p


@pytest.fixture
def number(client: TestClient, people: People) -> str:
    app = approved_birth(client, people)
    return str(certificate(client, people, "citizen1", app["number"])["number"])


def post(client: TestClient, request: tuple[str, bytes, dict[str, str]]) -> httpx.Response:
    path, body, headers = request
    return client.post(path, content=body, headers=headers)


def node_public(client: TestClient) -> dict[str, str]:
    keys = client.get("/exchange/v1/keys").json()["keys"]
    return {k["key_id"]: k["public_key"] for k in keys}


def check_signed_answer(client: TestClient, response: httpx.Response, nonce: str) -> None:
    """Our own verifier: the answer is signed by a published node key, over its status and digest, with our nonce."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    parsed = httpsig.parse(headers["signature-input"], headers["signature"], httpsig.RESPONSE_COMPONENTS)
    assert parsed.nonce == nonce
    httpsig.check_content_digest(headers["content-digest"], response.content)
    key = service.public_key_of(node_public(client)[parsed.keyid])
    httpsig.verify(parsed, key, service.component_values(response.status_code, "", headers))


def nonce_of(headers: dict[str, str]) -> str:
    return httpsig.parse(headers["signature-input"], headers["signature"], ()).nonce


def test_certificate_verify_answers_signed_and_is_logged_on_the_ledger(
    client: TestClient, runtime: Runtime, peer: Peer, number: str
) -> None:
    request = signed(peer, "certificate-verify", {"purpose": "service-application", "number": number})
    response = post(client, request)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["known"] is True and answer["valid"] is True and answer["status"] == "active"
    assert "record" not in answer and "name" not in json.dumps(answer)  # no personal data without consent
    check_signed_answer(client, response, nonce_of(request[2]))
    with runtime.db.unit_of_work(readonly=True) as s:
        row = s.get(LogRecord, answer["exchange_id"])
        assert row is not None
        assert (row.direction, row.member_identifier, row.service, row.status) == ("in", PEER, "certificate-verify", 200)
        pending = s.get(PendingEntry, row.ledger_pending_id)
        assert pending is not None and pending.subject == f"exchange:{row.id}" and pending.type == "exchange.in"
        assert number.encode() not in pending.body  # the ledger holds a salted hash, not the request
    unknown = post(client, signed(peer, "certificate-verify", {"purpose": "service-application", "number": "KL-NONE-1"}))
    assert unknown.status_code == 200 and unknown.json()["known"] is False


def test_refusals_are_problems_and_keep_nothing(client: TestClient, runtime: Runtime, peer: Peer, number: str) -> None:
    payload = {"purpose": "service-application", "number": number}
    before = kept(runtime)

    def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem: dict[str, Any] = response.json()
        assert problem["type"].endswith("/" + slug) and problem["detail"]
        return problem

    stranger = new_peer("IN/GOV/XX/none", "did:web:stranger.example")
    refused(post(client, signed(stranger, "certificate-verify", payload)), 401, "exchange-unknown-member")
    forged = signed(peer, "certificate-verify", payload, key=new_peer().key)  # the peer's key id, another key
    assert refused(post(client, forged), 401, "exchange-signature")["reason"] == "signature-invalid"
    path, body, headers = signed(peer, "certificate-verify", payload)
    tampered = body.replace(b"service-application", b"service-applicatioN")
    refused(client.post(path, content=tampered, headers=headers), 400, "exchange-digest")
    stale = signed(peer, "certificate-verify", payload, at=utcnow() - timedelta(minutes=10))
    refused(post(client, stale), 401, "exchange-clock")
    refused(post(client, signed(peer, "application-status", {**payload})), 403, "exchange-service-not-allowed")
    refused(
        post(client, signed(peer, "certificate-verify", {**payload, "purpose": "curiosity"})), 403, "exchange-service-not-allowed"
    )
    refused(post(client, signed(peer, "certificate-credential", payload)), 403, "exchange-consent")
    unsigned = client.post(path, content=body, headers={"content-type": "application/json"})
    refused(unsigned, 401, "exchange-signature")
    incomplete = dict(headers)
    incomplete["signature-input"] = incomplete["signature-input"].replace(' "date"', "")
    assert (
        refused(client.post(path, content=body, headers=incomplete), 401, "exchange-signature")["reason"]
        == "signature-incomplete"
    )
    assert kept(runtime) == before  # no log row, no ledger entry for any refusal

    first = post(client, signed(peer, "certificate-verify", payload, nonce="same-nonce-0123456789"))
    assert first.status_code == 200
    replay = post(client, signed(peer, "certificate-verify", payload, nonce="same-nonce-0123456789"))
    refused(replay, 409, "exchange-replay")
    assert kept(runtime) == (before[0] + 1, before[1] + 1)
    check_signed_answer(client, replay, "same-nonce-0123456789")  # refusals are signed too
    counted = REGISTRY.get_sample_value(
        "nagara_exchange_requests_total", {"member": PEER, "service": "certificate-verify", "outcome": "exchange-replay"}
    )
    assert counted is not None and counted >= 1


def test_the_credential_needs_a_consent_that_is_still_in_force(
    client: TestClient, runtime: Runtime, people: People, peer: Peer, number: str
) -> None:
    payload: dict[str, Any] = {"purpose": "service-application", "number": number}
    citizen = people.headers("citizen1")
    grant = {"member": PEER, "service": "certificate-credential", "resource": number, "purpose": "service-application"}
    # Only the certificate's holder consents, only for a purpose the member may state.
    assert client.post("/api/v1/exchange/consents", json=grant, headers=people.headers("citizen2")).status_code == 404
    bad = client.post("/api/v1/exchange/consents", json={**grant, "purpose": "marketing"}, headers=citizen)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["purpose"]
    given = client.post("/api/v1/exchange/consents", json=grant, headers=citizen)
    assert given.status_code == 201, given.text
    consent = given.json()["id"]

    ok = post(client, signed(peer, "certificate-credential", {**payload, "consent": consent}))
    assert ok.status_code == 200, ok.text
    credential = ok.json()["credential"]
    assert credential["credentialSubject"]["record"] and credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    other_purpose = post(client, signed(peer, "certificate-credential", {**payload, "consent": consent, "number": "KL-X-1"}))
    assert other_purpose.status_code == 403

    seen = client.get("/api/v1/exchange/access-log", headers=citizen).json()
    assert [(e["member"], e["service"], e["consent"], e["direction"]) for e in seen] == [
        (PEER, "certificate-credential", consent, "in")
    ]
    assert client.get("/api/v1/exchange/access-log", headers=people.headers("citizen2")).json() == []

    before = kept(runtime)
    assert client.delete(f"/api/v1/exchange/consents/{consent}", headers=citizen).json()["withdrawn_at"]
    after = post(client, signed(peer, "certificate-credential", {**payload, "consent": consent}))
    assert after.status_code == 403 and "withdrew" in after.json()["detail"]
    assert kept(runtime) == before


def test_members_are_managed_by_the_state_administrator_and_keys_rotate(
    client: TestClient, runtime: Runtime, people: People, number: str
) -> None:
    old, new = new_peer(name="k1"), new_peer(name="k2")
    body = {
        "identifier": PEER,
        "name": "Karnataka Nagara",
        "did": "did:web:ka.nagara.example",
        "state": "kl",
        "services": ["certificate-verify"],
        "purposes": ["service-application"],
        "keys": [{"key_id": old.key_id, "public_key": old.public}],
    }
    assert client.post("/api/v1/exchange/members", json=body, headers=people.headers("a_secretary")).status_code == 403
    bad = client.post("/api/v1/exchange/members", json={**body, "identifier": "KA portal"}, headers=people.headers("kl_admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["identifier"]
    made = client.post("/api/v1/exchange/members", json=body, headers=people.headers("kl_admin"))
    assert made.status_code == 201, made.text
    url = "/api/v1/exchange/members/IN/GOV/KA-NAGARA/portal"
    payload = {"purpose": "service-application", "number": number}
    assert post(client, signed(old, "certificate-verify", payload)).status_code == 200
    added = client.post(f"{url}/keys", json={"key_id": new.key_id, "public_key": new.public}, headers=people.headers("kl_admin"))
    assert added.status_code == 201
    # Both keys work while the member moves to the new one; then the old one is retired.
    assert post(client, signed(old, "certificate-verify", payload)).status_code == 200
    assert post(client, signed(new, "certificate-verify", payload)).status_code == 200
    retire = {"key_id": old.key_id, "public_key": old.public}
    assert client.post(f"{url}/keys/retire", json=retire, headers=people.headers("kl_admin")).status_code == 200
    assert post(client, signed(old, "certificate-verify", payload)).status_code == 401
    assert post(client, signed(new, "certificate-verify", payload)).status_code == 200
    # Suspended: refused; this node's own key rotates too, and answers are signed with the newest.
    assert client.patch(url, json={"status": "suspended"}, headers=people.headers("kl_admin")).json()["status"] == "suspended"
    assert post(client, signed(new, "certificate-verify", payload)).status_code == 403
    client.patch(url, json={"status": "active"}, headers=people.headers("kl_admin"))
    with runtime.db.unit_of_work() as s:
        newest = service.rotate_own_key(s, "second").key_id
    request = signed(new, "certificate-verify", payload)
    answer = post(client, request)
    assert answer.status_code == 200 and f'keyid="{newest}"' in answer.headers["signature-input"]
    check_signed_answer(client, answer, nonce_of(request[2]))
    assert len(node_public(client)) == 2
    listed = client.get("/api/v1/exchange/members", headers=people.headers("kl_admin")).json()
    assert [m["identifier"] for m in listed] == [PEER]
    assert client.get("/api/v1/exchange/members", headers=people.headers("citizen1")).status_code == 403


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, private: Any = None, public: dict[str, Any] | None = None) -> None:
        self.private, self.public = private, public or {}

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public.get(key_id)


def test_an_independent_rfc9421_implementation_interoperates(client: TestClient, peer: Peer, number: str) -> None:
    """http-message-signatures (PyPI) signs a request our verifier accepts, and verifies our signed answer; and the reverse."""
    body = json.dumps({"purpose": "service-application", "number": number}).encode()
    request = httpx.Request(
        "POST",
        "https://testserver/exchange/v1/services/certificate-verify",
        content=body,
        headers={"content-type": "application/json", "date": service.http_date(utcnow())},
    )
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(private=peer.key))
    signer.sign(
        request,
        key_id=peer.key_id,
        nonce="interop-nonce-0123456789",
        covered_component_ids=("@method", "@path", "content-digest", "date"),
        body=body,
    )
    response = client.post("/exchange/v1/services/certificate-verify", content=body, headers=dict(request.headers))
    assert response.status_code == 200, response.text
    keys = {k: service.public_key_of(v) for k, v in node_public(client).items()}
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(public=keys))
    answer = httpx.Response(response.status_code, headers=response.headers, content=response.content, request=request)
    results = verifier.verify(answer, body=response.content, require_components=("@status", "content-digest"))
    assert len(results) == 1 and results[0].parameters["nonce"] == "interop-nonce-0123456789"
    # Our signature on a request, checked by the library.
    path, ours, headers = signed(peer, "certificate-verify", {"purpose": "service-application", "number": number})
    mine = httpx.Request("POST", "https://testserver" + path, content=ours, headers=headers)
    theirs = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_Keys(public={peer.key_id: peer.key.public_key()})
    )
    assert len(theirs.verify(mine, body=ours, require_components=("@method", "@path", "content-digest", "date"))) == 1
    # A library signature over a changed body is refused by us.
    forged = dict(request.headers)
    forged["content-digest"] = "sha-256=:" + base64.b64encode(bytes(32)).decode() + ":"
    assert client.post("/exchange/v1/services/certificate-verify", content=body, headers=forged).status_code in (400, 401)


def test_content_digest_of_rfc9530() -> None:
    """RFC 9530 section 2, example: the digest of {"hello": "world"}\\n."""
    assert httpsig.content_digest(b'{"hello": "world"}\n') == "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    with pytest.raises(httpsig.SignatureError):
        httpsig.check_content_digest("sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:", b'{"hello": "world"}')


def test_nonces_are_forgotten_after_twice_the_window(runtime: Runtime, peer: Peer) -> None:
    with runtime.db.unit_of_work() as s:
        member_id = s.scalar(select(service.Member.id).where(service.Member.identifier == PEER))
        s.add(service.SeenNonce(member_id=member_id, nonce="old-nonce-0123456789", seen_at=utcnow() - timedelta(hours=1)))
        s.add(service.SeenNonce(member_id=member_id, nonce="new-nonce-0123456789", seen_at=utcnow()))
    with runtime.db.unit_of_work() as s:
        assert service.forget_old_nonces(s) == 1


def test_property_tax_clearance_under_consent(client: TestClient, runtime: Runtime, people: People) -> None:
    peer = new_peer()
    register(runtime, peer, services=("property-tax-clearance",), purposes=("building-permit",))
    with runtime.db.unit_of_work() as s:
        prop = Property(
            local_body_code=people.body_a,
            state_code="kl",
            assessment_number="A-12",
            owner_id=people.users["citizen1"].id,
            usage="residential",
            zone=1,
            plinth_area_sqm=80,
        )
        s.add(prop)
        s.flush()
        prop_id = prop.id
    grant = {
        "member": PEER,
        "service": "property-tax-clearance",
        "resource": f"{people.body_a}/A-12",
        "purpose": "building-permit",
    }
    assert client.post("/api/v1/exchange/consents", json=grant, headers=people.headers("citizen2")).status_code == 404
    consent = client.post("/api/v1/exchange/consents", json=grant, headers=people.headers("citizen1")).json()["id"]
    ask = {"purpose": "building-permit", "local_body": people.body_a, "assessment_number": "A-12", "consent": consent}
    cleared = post(client, signed(peer, "property-tax-clearance", ask))
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["cleared"] is True and cleared.json()["dues_paise"] == 0
    with runtime.db.unit_of_work() as s:
        s.add(
            Demand(
                number="KL-TEST-PT-1",
                state_code="kl",
                local_body_code=people.body_a,
                kind="property_tax",
                property_id=prop_id,
                period="2026-27/H1",
                payer_id=people.users["citizen1"].id,
                description={"en": "Property tax"},
                amount=150000,
                due_date=utcnow().date(),
            )
        )
    owing = post(client, signed(peer, "property-tax-clearance", ask)).json()
    assert (owing["cleared"], owing["dues_paise"], owing["periods_due"]) == (False, 150000, ["2026-27/H1"])
    assert post(client, signed(peer, "property-tax-clearance", {**ask, "consent": None})).status_code == 403
    other = post(client, signed(peer, "property-tax-clearance", {**ask, "assessment_number": "A-13"}))
    assert other.status_code == 403

"""DigiLocker's issuer API: Pull URI and Pull Doc round trips, the HMAC, the XML's element names, and the push."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nagara.exchange import digilocker, service
from nagara.runtime import Runtime
from nagara.worker.models import Job
from nagara.worker.runner import Worker
from tests.certificates.helpers import approved_birth, certificate, credential
from tests.conftest import People
from tests.exchange.helpers import kept
from tests.ledger.helpers import free_socket, serving

KEY = "digilocker-test-key-0123456789"
ISSUER = "in.gov.kl.nagara"
DIGILOCKER = "IN/GOV/DIGILOCKER/issuer-api"


@pytest.fixture
def configured(runtime: Runtime) -> Runtime:
    runtime.settings.digilocker_issuer_id = ISSUER
    runtime.settings.digilocker_api_key = type(runtime.settings.digilocker_api_key)(KEY)
    with runtime.db.unit_of_work() as s:
        service.rotate_own_key(s)
        service.register_member(
            s,
            None,
            identifier=DIGILOCKER,
            name="DigiLocker",
            did="did:web:digilocker.gov.in",
            state_code="kl",
            services=["digilocker"],
        )
    return runtime


def _post(client: TestClient, path: str, body: bytes, key: str = KEY) -> httpx.Response:
    return client.post(
        path, content=body, headers={"content-type": "application/xml", "x-digilocker-hmac": digilocker.hmac_of(key, body)}
    )


def _pull_uri(number: str, name: str, fmt: str = "both") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<PullURIRequest xmlns:ns2="http://tempuri.org/" ver="1.0" ts="2026-12-06T10:00:00+05:30" txn="T-1" orgId="{ISSUER}" format="{fmt}">
  <DocDetails>
    <DocType>BRCER</DocType>
    <DigiLockerId>DL-123</DigiLockerId>
    <UID>XXXXXXXX1234</UID>
    <FullName>{name}</FullName>
    <DOB>01-01-1990</DOB>
    <DocNo>{number}</DocNo>
  </DocDetails>
</PullURIRequest>""".encode()


def _children(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def test_pull_uri_and_pull_doc_return_the_certificate(client: TestClient, people: People, configured: Runtime) -> None:
    app = approved_birth(client, people)
    number = certificate(client, people, "citizen1", app["number"])["number"]
    vc = credential(client, people, "citizen1", app["number"])
    name = next(f["value"] for f in vc["credentialSubject"]["record"] if f["code"].endswith("name"))

    response = _post(client, "/digilocker/pull-uri", _pull_uri(number, name.upper()))
    assert response.status_code == 200, response.text
    assert response.headers["x-digilocker-hmac"] == digilocker.hmac_of(KEY, response.content)
    root = ET.fromstring(response.content)
    assert root.tag == "PullURIResponse" and _children(root) == ["ResponseStatus", "DocDetails"]
    assert root.find("ResponseStatus").get("Status") == "1" and root.find("ResponseStatus").get("txn") == "T-1"  # type: ignore[union-attr]
    details = root.find("DocDetails")
    assert details is not None
    assert _children(details) == ["DocType", "DigiLockerId", "UID", "FullName", "DOB", "URI", "DocContent", "DataContent"]
    uri = details.findtext("URI")
    assert uri == f"{ISSUER}-BRCER-{number}"
    assert base64.b64decode(details.findtext("DocContent") or "").startswith(b"%PDF")
    data = ET.fromstring(base64.b64decode(details.findtext("DataContent") or ""))
    assert data.tag == "Certificate" and data.get("number") == number and data.get("type") == "birth-certificate"
    assert _children(data) == ["IssuedBy", "IssuedTo", "CertificateData", "Signature"]

    doc = _post(
        client,
        "/digilocker/pull-doc",
        f'<PullDocRequest xmlns:ns2="http://tempuri.org/" ver="1.0" ts="" txn="T-2" orgId="{ISSUER}" format="pdf">'
        f"<DocDetails><URI>{uri}</URI><DigiLockerId>DL-123</DigiLockerId></DocDetails></PullDocRequest>".encode(),
    )
    root = ET.fromstring(doc.content)
    assert root.tag == "PullDocResponse" and root.find("ResponseStatus").get("Status") == "1"  # type: ignore[union-attr]
    assert _children(root.find("DocDetails")) == ["DocContent"]  # type: ignore[arg-type]
    # The citizen sees both pulls among who looked at their data.
    seen = client.get("/api/v1/exchange/access-log", headers=people.headers("citizen1")).json()
    assert [(e["member"], e["service"]) for e in seen] == [(DIGILOCKER, "digilocker")] * 2

    # A wrong HMAC is refused and keeps nothing; a wrong name or number finds nothing (Status 0).
    before = kept(configured)
    wrong = _post(client, "/digilocker/pull-uri", _pull_uri(number, name), key="not-the-key")
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert "x-digilocker-hmac" in wrong.json()["detail"]
    assert client.post("/digilocker/pull-uri", content=_pull_uri(number, name)).status_code == 401
    miss = _post(client, "/digilocker/pull-uri", _pull_uri(number, "Somebody Else"))
    assert ET.fromstring(miss.content).find("ResponseStatus").get("Status") == "0"  # type: ignore[union-attr]
    assert ET.fromstring(miss.content).findtext("DocDetails/URI") == ""
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><PullURIRequest>&a;</PullURIRequest>'
    assert _post(client, "/digilocker/pull-uri", hostile).status_code == 422
    assert _post(client, "/digilocker/pull-uri", b"<Other/>").status_code == 422
    assert kept(configured) == before


def test_without_configuration_digilocker_is_closed(client: TestClient) -> None:
    response = client.post("/digilocker/pull-uri", content=b"<PullURIRequest/>")
    assert response.status_code == 404 and "NAGARA_DIGILOCKER_API_KEY" in response.json()["detail"]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    got: list[tuple[bytes, str]] = []

    async def push(request: Request) -> Response:
        got.append((await request.body(), request.headers.get("x-digilocker-hmac", "")))
        return Response("<PushUriResponse/>", media_type="application/xml")

    with serving(Starlette(routes=[Route("/push", push, methods=["POST"])]), free_socket()) as url:  # type: ignore[arg-type]
        yield url + "/push", got


def test_a_new_certificate_is_pushed_through_the_outbox(
    client: TestClient, people: People, configured: Runtime, receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    url, got = receiver
    configured.settings.digilocker_push_url = url
    app = approved_birth(client, people)
    number = certificate(client, people, "citizen1", app["number"])["number"]
    assert got == []  # nothing leaves before the approval commits and the outbox runs
    Worker(configured.db).run_until_idle()
    assert len(got) == 1
    body, signature = got[0]
    assert signature == digilocker.hmac_of(KEY, body)
    root = ET.fromstring(body)
    assert root.tag == "PushUriRequest"
    assert _children(root.find("UriDetails")) == ["DocType", "DocId", "URI", "IssueDate", "ValidFrom", "ValidTo", "Action"]  # type: ignore[arg-type]
    assert root.findtext("UriDetails/URI") == f"{ISSUER}-BRCER-{number}" and root.findtext("UriDetails/Action") == "A"


def test_a_failed_push_is_retried(client: TestClient, people: People, configured: Runtime) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()  # nobody listens: the push fails and stays queued
    configured.settings.digilocker_push_url = f"http://127.0.0.1:{port}/push"
    approved_birth(client, people)
    Worker(configured.db).run_until_idle()
    with configured.db.unit_of_work(readonly=True) as s:
        job = s.scalar(select(Job).where(Job.name == "exchange.digilocker_push"))
        assert job is not None and job.attempts >= 1 and job.last_error

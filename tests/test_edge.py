"""The edge (kit/edge.py) and the operations endpoints: bad input is a 4xx problem naming where,
bodies are limited before they are read, every answer carries its request's id, the database's
absence is a 503. Issue 12, findings 3, 4 and 9."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.exc import DataError

from nagara.app import create_app
from nagara.kit import migrate
from nagara.kit.db import Database, make_engine
from nagara.kit.sms import ConsoleSms
from nagara.payments import service as payments
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy import service as tenancy
from tests import conftest
from tests.conftest import FAST_ARGON2, DatabaseFactory, People, backend
from tests.officer.helpers import sign_in

PROBLEM = "application/problem+json"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [e["loc"] for e in body["errors"]]


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/api/v1/tenants/kl%00x/services", ["path"]),
        ("/ledger/entries/KL%00X", ["path"]),
        ("/verify?number=KL%00X", ["query", "number"]),
        ("/api/v1/applications?number=a%00b", ["query", "number"]),
        ("/api/v1/tenants?x=%ED%A0%80%00", ["query", "x"]),
    ],
)
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_nul_in_the_path_or_query_is_a_422_naming_it(people: People, url: str, loc: list[str], signed_in: bool) -> None:
    headers = people.headers("a_secretary") if signed_in else {}
    body = problem(people.client.get(url, headers=headers), 422)
    assert locs(body) == [loc]
    assert "NUL" in body["errors"][0]["msg"]


def call_asgi(
    client: TestClient, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any]]:
    """Call the app as a server would (httpx refuses a NUL in a header and reads a body whole first)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 443),
    }
    # In a thread of its own: a browser test's Playwright keeps an event loop running in this
    # worker's main thread, where anyio.run would refuse to start another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, client.app, scope, receive, send).result()  # type: ignore[arg-type]
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_a_nul_in_a_header_is_refused(client: TestClient) -> None:
    status, body = call_asgi(client, "GET", "/api/v1/tenants", [(b"user-agent", b"pro\x00be")], iter(()))
    assert status == 422
    assert body["errors"][0]["loc"] == ["header", "user-agent"]


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b'{"username": "a.secre\\u0000tary", "password": "x", "totp": "1"}', ["body", "username"]),
        (b'{"username": "\\ud800", "password": "x", "totp": "1"}', ["body", "username"]),
        (b'{"username": "a", "password": "x", "totp": "1", "\\u0000": 1}', ["body", "\\x00"]),
        (b'{"username": "a", "password": "x", "totp": "1", "session": 1e400}', ["body", "session"]),
        (b'{"username": "a", "password": "x", "totp": "1", "session": Infinity}', ["body", "session"]),
        (b'{"username": "a", "password": "x", "totp": "1", "session": NaN}', ["body", "session"]),
        (b'{"username": "a", "password": "x", "totp": [1, 1180591620717411303424]}', ["body", "totp", 1]),
    ],
)
def test_json_bodies_with_what_no_column_holds_are_a_422_naming_the_field(client: TestClient, raw: bytes, loc: list[Any]) -> None:
    response = client.post("/api/v1/auth/officer", content=raw, headers={"content-type": "application/json"})
    assert locs(problem(response, 422)) == [loc]


def test_a_json_body_without_a_content_type_is_checked_too(client: TestClient) -> None:
    raw = b'{"username": "a\\u0000", "password": "x", "totp": "1"}'
    assert locs(problem(client.post("/api/v1/auth/officer", content=raw), 422))[0][0] == "body"
    vendor = client.post("/api/v1/auth/officer", content=raw, headers={"content-type": "application/merge-patch+json"})
    assert locs(problem(vendor, 422)) == [["body", "username"]]


def test_sign_in_form_fields_with_a_nul_are_refused(client: TestClient) -> None:
    for path, data in (
        ("/officer/sign-in", {"username": "a\x00b", "password": "x", "code": "1"}),
        ("/sign-in", {"mobile": "98470\x0000001"}),
    ):
        response = client.post(path, data=data)
        body = problem(response, 422)
        assert locs(body)[0][0] == "body"
        assert "NUL" in body["errors"][0]["msg"]
    response = client.post("/verify", files={"file": ("a.pdf", b"%PDF\x00"), "number": (None, "KL\x00")})
    assert locs(problem(response, 422)) == [["body", "number"]]


def test_a_nul_in_a_comment_or_refund_reason_is_refused_signed_in(people: People) -> None:
    token = people.headers("a_secretary")
    response = people.client.post(
        "/api/v1/payments/00000000-0000-0000-0000-000000000000/refunds",
        json={"amount": 100, "reason": "wrong\x00"},
        headers=token,
    )
    assert locs(problem(response, 422)) == [["body", "reason"]]
    response = people.client.post(
        "/api/v1/applications/KL-X-1/actions", json={"action": "forward", "comment": "\x00", "version": 1}, headers=token
    )
    assert locs(problem(response, 422)) == [["body", "comment"]]


def test_an_application_with_a_huge_ward_or_a_lone_surrogate_is_a_422(people: People) -> None:
    token = people.headers("citizen1")
    url = f"/api/v1/tenants/{people.body_a}/applications"
    huge = people.client.post(url, json={"service": "birth-registration", "ward": 2**70, "data": {}}, headers=token)
    assert locs(problem(huge, 422)) == [["body", "ward"]]
    big = people.client.post(url, json={"service": "birth-registration", "ward": 2**40, "data": {}}, headers=token)
    assert locs(problem(big, 422)) == [["body", "ward"]]
    lone = b'{"service": "birth-registration", "data": {"child_name": "\\udc00"}}'
    response = people.client.post(url, content=lone, headers={**token, "content-type": "application/json"})
    assert locs(problem(response, 422)) == [["body", "data", "child_name"]]


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    big = b'{"mobile": "' + b"9" * (2 * 1024 * 1024) + b'"}'
    body = problem(client.post("/api/v1/auth/otp", content=big, headers={"content-type": "application/json"}), 413)
    assert "1,048,576 bytes" in body["detail"]

    chunks_read: list[int] = []

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for i in range(64):
            chunks_read.append(i)
            yield b"9" * 65536

    status, body = call_asgi(client, "POST", "/api/v1/auth/otp", [(b"content-type", b"application/json")], chunked())
    assert status == 413
    assert "1,048,576 bytes" in body["detail"]
    assert len(chunks_read) == 17  # refused as soon as the limit was passed, the rest never read

    # An upload route allows the document limit: 2 MiB is fine there (refused later for other reasons).
    upload = client.post("/api/v1/applications/X/documents", files={"file": ("a.pdf", b"%PDF" + b"0" * (2 * 1024 * 1024))})
    assert upload.status_code != 413


def test_the_upload_limit_comes_from_the_settings(runtime: Runtime) -> None:
    small = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"upload_max_bytes": 4096}))
    with TestClient(create_app(runtime=small, start_worker=False), base_url="https://testserver") as c:
        response = c.post("/credentials/verify-document", files={"file": ("a.pdf", b"0" * 100_000)})
    assert "bytes here" in problem(response, 413)["detail"]


def test_a_500_carries_the_requests_id_in_body_and_header(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(tenancy, "list_states", broken)
    response = client.get("/api/v1/states", headers={"X-Request-ID": "probe-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "probe-42"
    assert response.json()["request_id"] == "probe-42"
    own = client.get("/api/v1/states")
    assert own.headers["x-request-id"] == own.json()["request_id"] != ""


def test_a_bad_statement_stays_a_500_not_a_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def bad(*_: Any, **__: Any) -> None:
        raise DataError("SELECT 1", {}, ValueError("invalid byte sequence"))

    monkeypatch.setattr(tenancy, "list_states", bad)
    response = client.get("/api/v1/states")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


def test_readyz_checks_the_schema_and_the_file(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url(migrated=False)
    rt = build_runtime(conftest.test_settings(url, tmp_path), sms=ConsoleSms(), hasher=FAST_ARGON2)
    try:
        with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as c:
            rt.db.engine.connect().close()  # the database exists, empty
            body = problem(c.get("/readyz"), 503)
            assert "migration head" in body["detail"]
            migrate.upgrade(rt.db.engine)
            assert c.get("/readyz").status_code == 200
            if backend() == "sqlite":
                rt.db.engine.dispose()
                Path(rt.db.engine.url.database or "").unlink()
                assert "missing" in problem(c.get("/readyz"), 503)["detail"]
    finally:
        rt.db.dispose()  # both pools: a read-only pool left open was collected in a later test (ResourceWarning)


def test_an_unreachable_database_is_a_503_with_retry_after(tmp_path: Path) -> None:
    url = (
        f"sqlite:///{tmp_path}/no/such/dir/x.db"
        if backend() == "sqlite"
        else "postgresql://postgres@127.0.0.1:1/nagara_nowhere?connect_timeout=2"
    )
    settings = conftest.test_settings(url, tmp_path)
    engine = make_engine(url)
    rt = build_runtime(settings, db=Database(engine), sms=ConsoleSms(), hasher=FAST_ARGON2)
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as c:
        response = c.get("/api/v1/states")
        body = problem(response, 503)
        assert response.headers["retry-after"].isdigit()
        assert "database" in body["detail"]
        assert problem(c.get("/readyz"), 503)["status"] == 503
        page = c.get("/", headers={"Accept-Language": "ml"})
        assert page.status_code == 503
        assert page.headers["retry-after"].isdigit()
        assert "സേവനം അൽപ്പനേരത്തേക്ക് ലഭ്യമല്ല" in page.text
    rt.db.dispose()


def test_production_sends_hsts_and_guards_metrics(runtime: Runtime) -> None:
    dev = TestClient(create_app(runtime=runtime, start_worker=False), base_url="https://testserver")
    assert "strict-transport-security" not in dev.get("/healthz").headers
    assert dev.get("/metrics").status_code == 200  # development, no token set

    prod_settings = runtime.settings.model_copy(update={"env": "production", "metrics_token": metrics_secret()})
    prod = dataclasses.replace(runtime, settings=prod_settings)
    with TestClient(create_app(runtime=prod, start_worker=False), base_url="https://testserver") as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")
        assert problem(c.get("/metrics"), 401)["status"] == 401
        assert problem(c.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)["status"] == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer metrics-secret"}).status_code == 200

    closed = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"env": "production"}))
    with TestClient(create_app(runtime=closed, start_worker=False), base_url="https://testserver") as c:
        assert "NAGARA_METRICS_TOKEN" in problem(c.get("/metrics"), 403)["detail"]


def metrics_secret() -> SecretStr:
    return SecretStr("metrics-secret")


def test_the_counter_page_refuses_infinite_or_overlong_amounts(people: People) -> None:
    assert payments.paise_of_rupees("1,260.50") == 126050
    for bad in ("inf", "1e400", "nan", "-5", "1.005", "9" * 30, "abc"):
        assert payments.paise_of_rupees(bad) is None, bad
    csrf = sign_in(people.client, people, "a_counter_clerk")
    for amount in ("inf", "1e400", "NaN", "9" * 40):
        form = {"csrf_token": csrf, "demand": "X", "method": "cash", "amount": amount, "body": people.body_a}
        response = people.client.post("/officer/counter/collect", data=form)
        assert response.status_code == 422, response.text[:300]
        assert "Write the amount received in rupees" in response.text

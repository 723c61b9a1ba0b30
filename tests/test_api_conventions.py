"""REST conventions: OpenAPI 3.1, offline docs, problem+json, health, metrics, logs with request ids."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from nagara.kit.logging import configure_logging


def test_openapi_is_3_1_and_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/auth/otp" in spec["paths"]


def test_docs_work_with_no_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', page.text) if u.startswith(("http:", "https:", "//"))]
    assert not external, f"the docs page loads {external}"
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_errors_are_problem_json(client: TestClient) -> None:
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    body = missing.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["request_id"] == missing.headers["x-request-id"]
    wrong_method = client.delete("/api/v1/states")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


def test_422_lists_every_invalid_field(client: TestClient) -> None:
    response = client.post("/api/v1/auth/otp/verify", json={"state": "kl", "code": "1", "extra": True})
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    locations = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "challenge_id") in locations
    assert ("body", "mobile") in locations
    assert ("body", "code") in locations
    assert ("body", "extra") in locations
    assert all(e["msg"] for e in body["errors"])


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    client.get("/api/v1/states")
    metrics = client.get("/metrics").text
    assert 'nagara_http_requests_total{method="GET",route="/api/v1/states",status="200"}' in metrics


def test_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_logs_are_json_with_the_request_id(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        client.get("/api/v1/states", headers={"X-Request-ID": "trace-me"})
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().handlers.clear()
    access = [entry for entry in lines if entry.get("logger") == "nagara.http"]
    assert access, lines
    assert access[-1]["request_id"] == "trace-me"
    assert "GET /api/v1/states 200" in access[-1]["event"]

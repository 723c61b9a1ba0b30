"""The VC API and the issuer's documents live outside /api/v1, and still answer errors as problem+json."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_credential_without_its_wrapper_is_a_422_naming_the_field(client: TestClient) -> None:
    bare = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]}
    response = client.post("/credentials/verify", json=bare)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    locs = [e["loc"] for e in response.json()["errors"]]
    assert ["body", "verifiableCredential"] in locs


def test_unknown_documents_under_the_json_prefixes_are_problem_json(client: TestClient) -> None:
    for path in ("/credentials/status/no-such-list", "/.well-known/nothing-here", "/contexts/nothing/v9"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json"), path

"""A property-based fuzz of the whole OpenAPI (schemathesis): no input gets a 5xx, on either engine.

Every operation of ``/openapi.json`` is called with generated inputs (valid and invalid, the
path, the query, the headers and the body) by a signed-in officer (a secretary) and a signed-in
citizen, in-process, inside the test's rolled-back transaction. The only property is that the
answer is not a server error. Bounded by ``FUZZ_EXAMPLES`` per operation and person.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.case import Case

from nagara.app import UPLOAD_ROUTES, create_app
from nagara.runtime import build_runtime
from tests import conftest
from tests.conftest import People

# Examples per operation and person: about 2-4 minutes per engine on 2 cores (FUZZ_EXAMPLES=500 to dig deeper).
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))


@pytest.fixture(scope="session")
def openapi(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    runtime = build_runtime(conftest.test_settings(base_url, tmp_path_factory.mktemp("fuzz")))
    try:
        return create_app(runtime=runtime, start_worker=False).openapi()
    finally:
        runtime.db.dispose()


@pytest.fixture(autouse=True)
def one_log(people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node serves Kerala's log, as a deployed node does: the test database holds three states
    whose packs name different logs, and such a node rightly answers 503 for its ledger until told."""
    monkeypatch.setattr(people.runtime.settings, "ledger_origin", "ledger.kl.example.gov.in/v1")


def send(client: TestClient, case: Case, headers: dict[str, str]) -> Any:
    """The case as schemathesis would send it (requests' encoding of bodies), through the test client."""
    sent = case.as_transport_kwargs(base_url="https://testserver")
    sent["headers"] = {**(sent.get("headers") or {}), **headers}
    prepared = requests.Request(**{k: v for k, v in sent.items() if k in REQUEST_ARGS}).prepare()
    client.cookies.clear()
    return client.request(prepared.method or "GET", prepared.url or "", headers=dict(prepared.headers), content=prepared.body)


REQUEST_ARGS = {"method", "url", "headers", "files", "data", "json", "params", "cookies"}
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def no_server_error(openapi: dict[str, Any], people: People, who: str) -> None:
    failures: list[str] = []
    for result in schemathesis.openapi.from_dict(openapi).get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def call(case: Case) -> None:
            # a fresh token for each call: the fuzz signs out and revokes tokens too
            response = send(people.client, case, people.headers(who))
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            )

        try:
            call()
        except AssertionError as failed:
            failures.append(str(failed).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_an_officer_gets_no_server_error(openapi: dict[str, Any], people: People) -> None:
    no_server_error(openapi, people, "a_secretary")


def test_a_citizen_gets_no_server_error(openapi: dict[str, Any], people: People) -> None:
    no_server_error(openapi, people, "citizen1")


# Explicit hostile inputs, sent to every operation: each is refused with a 4xx naming where.
NUL_PATH = "a%00b"
SURROGATE_PATH = "a%ED%A0%80b"  # the UTF-8 bytes of U+D800, which no UTF-8 text may hold
HOSTILE_JSON = {
    "nul": '"x\\u0000y"',
    "surrogate": '"x\\ud800y"',
    "huge_integer": str(2**70),
    "infinite": "1e400",
    "nan": "NaN",
}
OVERSIZED = 2 * 1024 * 1024


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def concrete(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("who", ["a_secretary", "citizen1", None])
def test_nul_and_surrogates_in_paths_and_queries_are_refused_everywhere(
    openapi: dict[str, Any], people: People, who: str | None
) -> None:
    wrong: list[str] = []
    for method, path, spec in operations(openapi):
        headers = people.headers(who) if who else {}
        queries = [p["name"] for p in spec.get("parameters", []) if p["in"] == "query"]
        urls = [concrete(path, NUL_PATH)] if "{" in path else []
        urls += [f"{concrete(path, 'x')}?{name}=%00" for name in queries]
        for url in urls:
            response = people.client.request(method, url, headers=headers)
            if response.status_code != 422 or not response.json()["errors"][0]["loc"]:
                wrong.append(f"{method} {url}: {response.status_code} {response.text[:200]}")
        if "{" in path:  # a server decodes these bytes to U+FFFD: any answer but a 5xx
            response = people.client.request(method, concrete(path, SURROGATE_PATH), headers=headers)
            if response.status_code >= 500:
                wrong.append(f"{method} {path} with a surrogate's bytes: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("kind", list(HOSTILE_JSON))
def test_hostile_json_values_are_a_422_naming_the_field_everywhere(openapi: dict[str, Any], people: People, kind: str) -> None:
    wrong: list[str] = []
    for method, path, spec in operations(openapi):
        content = spec.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        schema = resolve(openapi, content["application/json"]["schema"])
        names = list(schema.get("properties", {})) or ["value"]
        for who in ("a_secretary", "citizen1"):
            raw = "{" + ", ".join(f'"{name}": {HOSTILE_JSON[kind]}' for name in names) + "}"
            response = people.client.request(
                method, concrete(path, "x"), content=raw, headers={**people.headers(who), "content-type": "application/json"}
            )
            if response.status_code != 422 or response.json()["errors"][0]["loc"][:1] != ["body"]:
                wrong.append(f"{who} {method} {path}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_oversized_bodies_are_a_413_everywhere(openapi: dict[str, Any], people: People) -> None:
    wrong: list[str] = []
    big = b'{"x": "' + b"9" * OVERSIZED + b'"}'
    for method, path, _spec in operations(openapi):
        if method == "GET" or (method, path) in UPLOAD_ROUTES:
            continue
        response = people.client.request(
            method, concrete(path, "x"), content=big, headers={**people.headers("citizen1"), "content-type": "application/json"}
        )
        if response.status_code != 413 or "bytes" not in response.json()["detail"]:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)

"""Query budgets of the hot paths: a regression here is a slower platform for everyone.

Counted with a listener on the engine the test client uses; the savepoint statements that
the test harness adds around each unit of work (SAVEPOINT, RELEASE) are not the
application's and are left out. The budgets are the ones issue 11 set; each test prints
the statements it saw when it fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from nagara.runtime import Runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from tests.applications.helpers import fetch
from tests.conftest import PACKS, People

QUICK = Path(__file__).parent.parent / "bench" / "packs" / "quick-certificate.yaml"
FORM = {"applicant_name": "Lakshmi", "purpose": "education", "ward": 12}
HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


class Statements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __len__(self) -> int:
        return len(self.seen)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1:2}. {s[:160]}" for i, s in enumerate(self.seen))


@contextmanager
def counting(runtime: Runtime) -> Iterator[Statements]:
    statements = Statements()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(HARNESS):
            statements.seen.append(" ".join(statement.split()))

    engine = runtime.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def quick(runtime: Runtime, tmp_path: Path) -> None:
    """The benchmark's service: a fee, no documents, so one request creates and submits it."""
    pack_dir = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", pack_dir)
    shutil.copy(QUICK, pack_dir / "services")
    with runtime.db.unit_of_work() as s:
        load_pack(s, read_pack(pack_dir))


def _submit(client: TestClient, people: People, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "quick-certificate", "data": FORM, "submit": True},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_and_submit_with_a_fee(client: TestClient, people: People, runtime: Runtime, quick: None) -> None:
    headers = people.headers("citizen1")
    _submit(client, people, headers)  # warm: caches of the place and the service
    with counting(runtime) as statements:
        app = _submit(client, people, headers)
    assert app["fee_total"] > 0
    assert app["state"] == "scrutiny"
    assert len(statements) <= 12, str(statements)


def test_an_officer_action(client: TestClient, people: People, runtime: Runtime, quick: None) -> None:
    citizen = people.headers("citizen1")
    clerk = people.headers("a_section_clerk")
    first, second = _submit(client, people, citizen), _submit(client, people, citizen)
    client.post(
        f"/api/v1/applications/{first['number']}/actions", json={"action": "forward", "version": first["version"]}, headers=clerk
    )
    with counting(runtime) as statements:
        response = client.post(
            f"/api/v1/applications/{second['number']}/actions",
            json={"action": "forward", "version": second["version"]},
            headers=clerk,
        )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == second["version"] + 1  # one UPDATE: the version goes up by one
    assert len(statements) <= 10, str(statements)


def test_get_an_application(client: TestClient, people: People, runtime: Runtime, quick: None) -> None:
    citizen = people.headers("citizen1")
    app = _submit(client, people, citizen)
    fetch(client, people, "citizen1", app["number"])
    with counting(runtime) as statements:
        response = client.get(f"/api/v1/applications/{app['number']}", headers=citizen)
    assert response.status_code == 200
    assert len(statements) <= 4, str(statements)


def test_me(client: TestClient, people: People, runtime: Runtime) -> None:
    headers = people.headers("a_section_clerk")
    client.get("/api/v1/me", headers=headers)
    with counting(runtime) as statements:
        response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert len(statements) <= 1, str(statements)

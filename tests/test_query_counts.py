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
from sqlalchemy import event, select

from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment
from nagara.runtime import Runtime
from nagara.tenancy.context import invalidate
from nagara.tenancy.models import LocalBody
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from tests.applications.helpers import fetch
from tests.conftest import PACKS, People, make_officer

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
    # 12 by issue 11, + 1 by issue 15: the submission's notification job in the outbox (INSERT INTO jobs),
    # written in the step's transaction so a submission is told once it commits, however late, and never
    # when it rolls back. An action that tells nobody (test_an_officer_action) queues none.
    assert len(statements) <= 13, str(statements)


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


# --- lists: a fixed number of statements whatever the page holds ---------------------------------

LIST_BUDGET = 5  # authentication, the state's pack, the list, its places and its service versions


def _clerk_of_many_bodies(runtime: Runtime, bodies: list[str]) -> str:
    """A section clerk holding the role at each of these bodies; their inbox spans them all."""
    with runtime.db.unit_of_work() as s:
        user = make_officer(s, "many.clerk", "section_clerk", "kl", bodies[0])
        s.add_all(
            RoleAssignment(user_id=user.id, state_code="kl", role_code="section_clerk", local_body_code=b) for b in bodies[1:]
        )
        return identity.issue_token(s, user, "bearer")


def _kerala_bodies(runtime: Runtime, n: int) -> list[str]:
    with runtime.db.unit_of_work(readonly=True) as s:
        return list(
            s.scalars(
                select(LocalBody.code)
                .where(LocalBody.state_code == "kl", LocalBody.type == "municipality")
                .order_by(LocalBody.code)
                .limit(n)
            )
        )


def _apply_at(client: TestClient, headers: dict[str, str], body: str) -> None:
    response = client.post(
        f"/api/v1/tenants/{body}/applications",
        json={"service": "quick-certificate", "data": FORM, "submit": True},
        headers=headers,
    )
    assert response.status_code == 201, response.text


def _reload_quick_with_a_new_version(runtime: Runtime, tmp_path: Path) -> None:
    """The pack loaded again with the service changed: applications made from now on have a new version."""
    pack_dir = tmp_path / "kl2"
    shutil.copytree(PACKS / "kl", pack_dir)
    text = QUICK.read_text(encoding="utf-8").replace("sla_days: 3", "sla_days: 4")
    (pack_dir / "services" / QUICK.name).write_text(text, encoding="utf-8")
    with runtime.db.unit_of_work() as s:
        load_pack(s, read_pack(pack_dir))


def _cold_count(runtime: Runtime, client: TestClient, url: str, headers: dict[str, str]) -> tuple[Statements, Any]:
    """The statements of one request made with the process's caches of places and services emptied."""
    with runtime.db.unit_of_work() as s:
        invalidate(s, "kl")
    with counting(runtime) as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return statements, response.json()


@pytest.mark.parametrize(
    ("url", "size"),
    [
        ("/api/v1/inbox?limit=50", len),
        ("/api/v1/applications?limit=50", len),
        ("/api/v1/inbox/falls-due", lambda body: sum(len(b["applications"]) for b in body["buckets"])),
    ],
)
def test_a_list_costs_the_same_statements_for_one_item_or_many(
    client: TestClient, people: People, runtime: Runtime, quick: None, tmp_path: Path, url: str, size: Any
) -> None:
    bodies = _kerala_bodies(runtime, 8)
    token = _clerk_of_many_bodies(runtime, bodies)
    clerk = {"Authorization": f"Bearer {token}"}
    citizen = people.headers("citizen1")
    _apply_at(client, citizen, bodies[0])
    few, shown = _cold_count(runtime, client, url, clerk)
    assert size(shown) == 1
    for body in bodies:
        _apply_at(client, citizen, body)
    _reload_quick_with_a_new_version(runtime, tmp_path)
    for body in bodies:
        _apply_at(client, citizen, body)
    many, shown = _cold_count(runtime, client, url, clerk)
    assert size(shown) == 1 + 2 * len(bodies), " ".join(sorted(a["local_body"] for a in shown))
    assert len(many) == len(few), f"a statement per item crept in:\n{many}"
    assert len(many) <= LIST_BUDGET, str(many)

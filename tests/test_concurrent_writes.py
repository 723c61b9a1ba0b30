"""Writing requests at the same moment, in one process, on the engine under test: none may stall."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from nagara.app import create_app
from nagara.identity import service as identity
from nagara.identity.models import RoleAssignment, User
from nagara.kit.migrate import upgrade
from nagara.kit.settings import Settings
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from tests.conftest import PACKS, ROOT, DatabaseFactory

FORM = {"applicant_name": "L", "purpose": "education", "ward": 12}


def _node(db_factory: DatabaseFactory, tmp_path: Path) -> Runtime:
    """A database of its own (real commits) with Kerala's pack and the quick certificate."""
    packs = tmp_path / "packs"
    shutil.copytree(PACKS / "kl", packs / "kl")
    shutil.copy(ROOT / "bench" / "packs" / "quick-certificate.yaml", packs / "kl" / "services")
    rt = build_runtime(
        Settings(env="test", database_url=db_factory.new_url(migrated=False), var_dir=tmp_path, worker_embedded=False)
    )
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(packs / "kl"))
    return rt


def _citizen(s: Session) -> User:
    citizen = User(kind="citizen", state_code="kl", mobile_index="concurrent")
    s.add(citizen)
    s.flush()
    s.add(RoleAssignment(user_id=citizen.id, state_code="kl", role_code="citizen"))
    s.flush()
    return citizen


def test_simultaneous_submissions_all_succeed(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    rt = _node(db_factory, tmp_path)
    with rt.db.unit_of_work() as s:
        token = identity.issue_token(s, _citizen(s), "bearer")
    statuses: list[int] = []
    lock = threading.Lock()
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:

        def submit() -> None:
            try:
                submit_five()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                with lock:
                    statuses.append(repr(exc))  # type: ignore[arg-type]

        def submit_five() -> None:
            for _ in range(5):
                r = client.post(
                    "/api/v1/tenants/kl.tvm-corp/applications",
                    json={"service": "quick-certificate", "data": FORM, "submit": True},
                    headers={"Authorization": f"Bearer {token}"},
                )
                with lock:
                    statuses.append(r.status_code)

        threads = [threading.Thread(target=submit) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    rt.db.dispose()
    assert statuses == [201] * 30


def test_twenty_officers_acting_on_one_application_at_once_make_one_step(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    """The history's sequence and the version are counters on the application row: under 20 parallel
    actions with the same version exactly one is taken, its step is numbered next, the version goes
    up by one, and the others are refused as stale or conflicting (never a 500, never a second step)."""
    rt = _node(db_factory, tmp_path)
    with rt.db.unit_of_work() as s:
        citizen = _citizen(s)
        clerk = identity.create_officer(
            s,
            None,
            state_code="kl",
            username="parallel.clerk",
            name="Clerk",
            password="parallel-password-1",
            role="section_clerk",
            place=identity.Place("kl", "kl.tvm-corp"),
        ).user
        s.flush()
        citizen_token = identity.issue_token(s, citizen, "bearer")
        clerk_token = identity.issue_token(s, clerk, "bearer")
    statuses: list[int] = []
    lock = threading.Lock()
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:
        app = client.post(
            "/api/v1/tenants/kl.tvm-corp/applications",
            json={"service": "quick-certificate", "data": FORM, "submit": True},
            headers={"Authorization": f"Bearer {citizen_token}"},
        ).json()
        start = threading.Barrier(20)

        def forward() -> None:
            start.wait()
            r = client.post(
                f"/api/v1/applications/{app['number']}/actions",
                json={"action": "forward", "version": app["version"]},
                headers={"Authorization": f"Bearer {clerk_token}"},
            )
            with lock:
                statuses.append(r.status_code)

        threads = [threading.Thread(target=forward) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = client.get(f"/api/v1/applications/{app['number']}", headers={"Authorization": f"Bearer {clerk_token}"}).json()
    rt.db.dispose()
    assert sorted(statuses).count(200) == 1, statuses
    assert set(statuses) - {200} <= {409, 412}, statuses
    assert (after["state"], after["version"]) == ("approval", app["version"] + 1)
    assert [(h["seq"], h["action"]) for h in after["history"]] == [(1, "submit"), (2, "forward")]

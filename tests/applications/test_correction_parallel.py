"""A re-upload replaces: 20 parallel uploads of one document type leave one document, on a draft
and on an application returned for correction (whose history then has one step per upload).

Each request runs on its own connection of a server with a database of its own (real commits),
as in tests/identity/test_limits_parallel.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.app import create_app
from nagara.applications import service as applications
from nagara.applications.models import Document
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.migrate import upgrade
from nagara.kit.settings import Settings
from nagara.kit.sms import ConsoleSms
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from nagara.workflow.models import HistoryEntry
from tests.applications.helpers import PDF, birth_form
from tests.conftest import FAST_ARGON2, PACKS, DatabaseFactory, make_citizen, make_officer
from tests.identity.test_limits_parallel import N, at_once


@dataclass
class Node:
    runtime: Runtime
    client: TestClient
    citizen: dict[str, str]
    clerk: str


@pytest.fixture(scope="module")
def node(db_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("correction")
    settings = Settings(env="test", database_url=db_factory.new_url(migrated=False), var_dir=tmp, worker_embedded=False)
    rt = build_runtime(settings, sms=ConsoleSms(), hasher=FAST_ARGON2)
    upgrade(rt.db.engine)
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(PACKS / "kl"))
        citizen = make_citizen(s, rt, "kl", "9847600001")
        token = identity.issue_token(s, citizen, "bearer")
        clerk = make_officer(s, "parallel.clerk", "section_clerk", "kl", "kl.tvm-corp").id
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:
        yield Node(rt, client, {"Authorization": f"Bearer {token}"}, clerk)
    rt.db.dispose()


def _upload(node: Node, number: str, doc_type: str) -> Any:
    return node.client.post(
        f"/api/v1/applications/{number}/documents",
        data={"type": doc_type},
        files={"file": ("doc.pdf", PDF, "application/pdf")},
        headers=node.citizen,
    )


def _documents(node: Node, number: str, doc_type: str) -> list[Document]:
    with node.runtime.db.unit_of_work(readonly=True) as s:
        app_id = s.scalar(select(applications.Application.id).where(applications.Application.number == number))
        return list(s.scalars(select(Document).where(Document.application_id == app_id, Document.doc_type == doc_type)))


def test_parallel_uploads_of_one_type_leave_one_document(node: Node) -> None:
    created = node.client.post(
        "/api/v1/tenants/kl.tvm-corp/applications",
        json={"service": "birth-registration", "data": birth_form(), "submit": False},
        headers=node.citizen,
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]

    assert at_once(N, lambda _i: _upload(node, number, "parent-id")) == [201] * N
    assert len(_documents(node, number, "parent-id")) == 1

    assert _upload(node, number, "birth-report").status_code == 201
    app = node.client.get(f"/api/v1/applications/{number}", headers=node.citizen).json()
    submitted = node.client.post(
        f"/api/v1/applications/{number}/actions", json={"action": "submit", "version": app["version"]}, headers=node.citizen
    )
    assert submitted.status_code == 200, submitted.text
    with node.runtime.db.unit_of_work() as s:
        clerk = identity.load_principal(s, s.get(User, node.clerk), "bearer")
        version = applications.get(s, clerk, number).version
        applications.act(s, clerk, number, action="return", comment="a clearer copy, please", version=version)
    before = node.client.get(f"/api/v1/applications/{number}", headers=node.citizen).json()

    assert at_once(N, lambda _i: _upload(node, number, "birth-report")) == [201] * N
    assert len(_documents(node, number, "birth-report")) == 1
    after = node.client.get(f"/api/v1/applications/{number}", headers=node.citizen).json()
    assert after["version"] == before["version"] + N
    steps = [h for h in after["history"] if h["action"] == "document_replaced"]
    assert len(steps) == N
    # each step replaced the one document the step before it added
    for earlier, later in pairwise(steps):
        assert [old["id"] for old in later["data"]["old"]] == [earlier["data"]["new"]["id"]]
    with node.runtime.db.unit_of_work(readonly=True) as s:
        seqs = list(
            s.scalars(select(HistoryEntry.seq).join(applications.Application).where(applications.Application.number == number))
        )
        assert len(seqs) == len(set(seqs))

"""Two nodes, Kerala and Karnataka, each a uvicorn server on loopback with its own database.

A Karnataka citizen holds a Kerala birth certificate; at the Kerala node they consent that the
Karnataka node may pull it, and the Karnataka portal pulls it. Both sides log the exchange, the
citizen sees it on both, every failure is a problem+json that keeps nothing, and each node's
ledger verifies with `nagara ledger verify` and holds the exchange's own entry (inclusion proof).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.app import create_app
from nagara.exchange import client as exchange_client
from nagara.exchange import service
from nagara.exchange.models import LogRecord
from nagara.kit.db import clock_set_to, utcnow
from nagara.kit.settings import Settings
from nagara.kit.sms import ConsoleSms
from nagara.ledger import entry as entries
from nagara.ledger import merkle, proof
from nagara.ledger import service as ledger
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.models import LocalBody as LocalBodyRow
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from nagara.worker.registry import enqueue
from nagara.worker.runner import Worker
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.conftest import FAST_ARGON2, PACKS, DatabaseFactory, People, make_citizen, make_officer
from tests.exchange.helpers import kept
from tests.ledger.helpers import free_socket, log_vkey, serving

KL_MEMBER = "IN/GOV/KL-NAGARA/portal"
KA_MEMBER = "IN/GOV/KA-NAGARA/portal"
PURPOSE = "service-application"


@dataclass
class Node:
    state: str
    rt: Runtime
    url: str
    client: TestClient

    def integrate(self) -> None:
        with self.rt.db.unit_of_work() as s:
            enqueue(s, "ledger.integrate", {})
        Worker(self.rt.db).run_until_idle()


def _runtime(db_factory: DatabaseFactory, tmp: Path, state: str, url: str, **extra: Any) -> Runtime:
    settings = Settings(
        env="test",
        database_url=db_factory.new_url(),
        var_dir=tmp / state,
        base_url=url,
        worker_embedded=False,
        log_json=False,
        ledger_origin=f"ledger.{state}.example.gov.in/v1",
        **extra,
    )
    rt = build_runtime(settings, sms=ConsoleSms(), hasher=FAST_ARGON2)
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(PACKS / state))
        service.rotate_own_key(s)
    return rt


def _introduce(host: Node, guest: Node, identifier: str, services: list[str], rate: int = 600) -> None:
    """``host`` registers ``guest`` as a member, with the keys ``guest`` publishes."""
    # A node just started may take more than httpx's default 5 s to answer on a loaded machine.
    published = httpx.get(f"{guest.url}/exchange/v1/keys", timeout=60).json()
    with host.rt.db.unit_of_work() as s:
        service.register_member(
            s,
            None,
            identifier=identifier,
            name=f"Nagara {guest.state}",
            did=published["did"],
            state_code=host.state,
            base_url=guest.url,
            services=services,
            purposes=[PURPOSE],
            requests_per_minute=rate,
            keys={k["key_id"]: k["public_key"] for k in published["keys"]},
        )


@pytest.fixture
def nodes(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[dict[str, Node]]:
    socks = {"kl": free_socket(), "ka": free_socket()}
    urls = {s: f"http://127.0.0.1:{sock.getsockname()[1]}" for s, sock in socks.items()}
    runtimes = {s: _runtime(db_factory, tmp_path, s, urls[s]) for s in socks}
    try:
        with (
            serving(create_app(runtime=runtimes["kl"], start_worker=False), socks["kl"]),
            serving(create_app(runtime=runtimes["ka"], start_worker=False), socks["ka"]),
            TestClient(create_app(runtime=runtimes["kl"], start_worker=False), base_url=urls["kl"]) as kl_client,
            TestClient(create_app(runtime=runtimes["ka"], start_worker=False), base_url=urls["ka"]) as ka_client,
        ):
            found = {
                "kl": Node("kl", runtimes["kl"], urls["kl"], kl_client),
                "ka": Node("ka", runtimes["ka"], urls["ka"], ka_client),
            }
            _introduce(found["kl"], found["ka"], KA_MEMBER, ["certificate-verify", "certificate-credential"])
            _introduce(found["ka"], found["kl"], KL_MEMBER, [])
            yield found
    finally:
        for rt in runtimes.values():
            rt.db.dispose()


def _kerala_certificate(node: Node) -> tuple[str, People]:
    """A birth registration approved at a Kerala corporation for the citizen, and the certificate's number."""
    with node.rt.db.unit_of_work() as s:
        body = "kl.tvm-corp"
        users = {
            "citizen1": make_citizen(s, node.rt, "kl", "9847000011"),
            "a_section_clerk": make_officer(s, "a.section_clerk", "section_clerk", "kl", body),
            "a_secretary": make_officer(s, "a.secretary", "secretary", "kl", body),
        }
    people = People(node.rt, node.client, body, body, "", users)
    app = apply(node.client, people, "citizen1", body, "birth-registration", birth_form(), submit=False)
    for code in ("birth-report", "parent-id"):
        upload(node.client, people, "citizen1", app["number"], code)
    app = act(node.client, people, "citizen1", fetch(node.client, people, "citizen1", app["number"]), "submit")
    app = act(node.client, people, "a_section_clerk", app, "forward")
    act(node.client, people, "a_secretary", app, "approve")
    got = node.client.get(f"/api/v1/applications/{app['number']}/certificate", headers=people.headers("citizen1"))
    return str(got.json()["number"]), people


def _ka_citizen(node: Node) -> dict[str, str]:
    with node.rt.db.unit_of_work() as s:
        user = make_citizen(s, node.rt, "ka", "9847000012")
    people = People(node.rt, node.client, "", "", "", {"citizen": user})
    return people.headers("citizen")


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


def test_a_consent_bound_pull_between_two_nodes(nodes: dict[str, Node], tmp_path: Path) -> None:
    kl, ka = nodes["kl"], nodes["ka"]
    number, kl_people = _kerala_certificate(kl)
    ka_citizen = _ka_citizen(ka)
    pull = {"member": KL_MEMBER, "service": "certificate-credential", "purpose": PURPOSE, "number": number}

    # Without consent: the Kerala node refuses, the Karnataka portal says so; neither keeps anything.
    before = {s: kept(n.rt) for s, n in nodes.items()}
    refused = _problem(ka.client.post("/api/v1/exchange/pulls", json=pull, headers=ka_citizen), 502, "exchange-peer")
    assert refused["peer_status"] == 403 and refused["peer_type"].endswith("/exchange-consent")
    assert {s: kept(n.rt) for s, n in nodes.items()} == before

    # The citizen consents at the Kerala node; the pull carries the consent reference and succeeds.
    grant = {"member": KA_MEMBER, "service": "certificate-credential", "resource": number, "purpose": PURPOSE}
    consent = kl.client.post("/api/v1/exchange/consents", json=grant, headers=kl_people.headers("citizen1")).json()["id"]
    done = ka.client.post("/api/v1/exchange/pulls", json={**pull, "consent": consent}, headers=ka_citizen)
    assert done.status_code == 200, done.text
    answer = done.json()["answer"]
    assert answer["number"] == number and answer["credential"]["proof"]["type"] == "DataIntegrityProof"
    # Both sides log it; the citizen sees it in "who looked at my data" on each node.
    kl_seen = kl.client.get("/api/v1/exchange/access-log", headers=kl_people.headers("citizen1")).json()
    ka_seen = ka.client.get("/api/v1/exchange/access-log", headers=ka_citizen).json()
    assert [(e["direction"], e["member"], e["consent"]) for e in kl_seen] == [("in", KA_MEMBER, consent)]
    assert [(e["direction"], e["member"], e["consent"]) for e in ka_seen] == [("out", KL_MEMBER, consent)]
    assert kl_seen[0]["id"] == answer["exchange_id"]
    with kl.rt.db.unit_of_work(readonly=True) as s, ka.rt.db.unit_of_work(readonly=True) as t:
        served, made = s.get(LogRecord, kl_seen[0]["id"]), t.get(LogRecord, ka_seen[0]["id"])
        assert served is not None and made is not None
        assert (served.request_sha256, served.response_sha256) == (made.request_sha256, made.response_sha256)

    # Each failure at the Kerala node, sent by the Karnataka node's own client or forged: a problem, nothing kept.
    before = {s: kept(n.rt) for s, n in nodes.items()}
    with ka.rt.db.unit_of_work() as s:
        not_allowed = exchange_client.call(s, KL_MEMBER, "application-status", {"purpose": PURPOSE, "number": "X"})
    assert not_allowed.status == 403 and not_allowed.body["type"].endswith("/exchange-service-not-allowed")
    with ka.rt.db.unit_of_work() as s:
        other = exchange_client.call(
            s, KL_MEMBER, "certificate-credential", {"purpose": PURPOSE, "number": number, "consent": "nope"}
        )
    assert other.status == 403
    with ka.rt.db.unit_of_work() as s:
        path = "/exchange/v1/services/certificate-verify"
        body = json.dumps({"purpose": PURPOSE, "number": number}).encode()
        headers = exchange_client.signed_request(s, "POST", path, body)
    assert httpx.post(kl.url + path, content=body, headers=headers, timeout=60).status_code == 200  # the control
    _problem(httpx.post(kl.url + path, content=body, headers=headers, timeout=60), 409, "exchange-replay")
    with ka.rt.db.unit_of_work() as s:
        headers = exchange_client.signed_request(s, "POST", path, body)
    _problem(httpx.post(kl.url + path, content=body + b" ", headers=headers, timeout=60), 400, "exchange-digest")
    with ka.rt.db.unit_of_work() as s, clock_set_to(utcnow() - timedelta(minutes=30)):
        stale = exchange_client.signed_request(s, "POST", path, body)
    _problem(httpx.post(kl.url + path, content=body, headers=stale, timeout=60), 401, "exchange-clock")
    with ka.rt.db.unit_of_work() as s:
        headers = exchange_client.signed_request(s, "POST", path, body)
    forged = {**headers, "Signature": "sig1=:" + "A" * 86 + "==:"}
    _problem(httpx.post(kl.url + path, content=body, headers=forged, timeout=60), 401, "exchange-signature")
    with ka.rt.db.unit_of_work() as s:
        service.rotate_own_key(s, "unregistered")  # Kerala does not know this key yet: an unknown member
        unknown = exchange_client.signed_request(s, "POST", path, body)
    _problem(httpx.post(kl.url + path, content=body, headers=unknown, timeout=60), 401, "exchange-unknown-member")
    after = {s: kept(n.rt) for s, n in nodes.items()}
    assert after["kl"] == (before["kl"][0] + 1, before["kl"][1] + 1)  # the one control call only
    assert after["ka"] == before["ka"]

    # Withdrawal stops future pulls.
    kl.client.delete(f"/api/v1/exchange/consents/{consent}", headers=kl_people.headers("citizen1"))
    with ka.rt.db.unit_of_work() as s:
        ka_key = service.own_keys(s)[0].key_id
        service.retire_own_key(s, service.signing_key(s)[0])  # sign with the key Kerala knows again
        assert service.signing_key(s)[0] == ka_key
    withdrawn = _problem(
        ka.client.post("/api/v1/exchange/pulls", json={**pull, "consent": consent}, headers=ka_citizen), 502, "exchange-peer"
    )
    assert withdrawn["peer_status"] == 403 and "withdrew" in withdrawn["detail"]

    # Both ledgers verify from outside, and each holds its own record of this exchange.
    for node, record_id in ((kl, kl_seen[0]["id"]), (ka, ka_seen[0]["id"])):
        node.integrate()
        done_verify = subprocess.run(
            [
                sys.executable,
                "-m",
                "nagara",
                "ledger",
                "verify",
                node.url,
                "--vkey",
                log_vkey(node.rt),
                "--state",
                str(tmp_path / f"{node.state}.json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done_verify.returncode == 0, done_verify.stdout + done_verify.stderr
        assert "OK" in done_verify.stdout
        _included(node, record_id)


def _included(node: Node, record_id: str) -> None:
    """The ledger entry for this exchange verifies by inclusion proof, and commits to this record's content."""
    with node.rt.db.unit_of_work(readonly=True) as s:
        found = ledger.subject_entries(s, node.rt.settings, service.ledger_subject(record_id))
        row = s.get(LogRecord, record_id)
        assert row is not None
        salt_of = lambda salt_id: ledger.entry_salt_for(s, salt_id)  # noqa: E731
        content = row.ledger_content()
        assert len(found.entries) == 1 and found.pending == 0
        item = found.entries[0]
        checked = proof.verify_proof(
            item.proof, merkle.leaf_hash(item.body), [log_vkey(node.rt)], origin=node.rt.settings.ledger_origin
        )
        assert checked.index == item.index
        entry = entries.parse_entry(item.body)
        assert entry.type == f"exchange.{row.direction}" and entry.subject == service.ledger_subject(record_id)
        assert entries.verify_content(entry, content, salt_of(entry.salt_id))
        assert not entries.verify_content(entry, {**content, "status": 500}, salt_of(entry.salt_id))


def test_a_members_rate_holds_under_parallel_requests(nodes: dict[str, Node]) -> None:
    """20 signed requests at once from a member allowed 5 a minute: exactly 5 answered, 15 refused with 429."""
    kl, ka = nodes["kl"], nodes["ka"]
    with kl.rt.db.unit_of_work() as s:
        service.update_member(s, None, KA_MEMBER, requests_per_minute=5)
    path = "/exchange/v1/services/certificate-verify"
    body = json.dumps({"purpose": PURPOSE, "number": "KL-NONE-1"}).encode()
    with ka.rt.db.unit_of_work() as s:
        signed = [exchange_client.signed_request(s, "POST", path, body) for _ in range(20)]
    start = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        start.wait()
        with httpx.Client(timeout=60) as http:
            status = http.post(kl.url + path, content=body, headers=signed[i]).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(statuses) == [200] * 5 + [429] * 15


def test_moving_home_carries_the_records_and_both_sides_log_it(nodes: dict[str, Node]) -> None:
    kl, ka = nodes["kl"], nodes["ka"]
    with kl.rt.db.unit_of_work() as s:
        service.update_member(
            s, None, KA_MEMBER, services=["certificate-verify", "move-home-decision"], purposes=[PURPOSE, "move-home"]
        )
    with ka.rt.db.unit_of_work() as s:
        service.update_member(s, None, KL_MEMBER, services=["move-home"], purposes=["move-home"])
        ka_body = s.scalar(select(LocalBodyRow.code).where(LocalBodyRow.state_code == "ka").order_by(LocalBodyRow.code).limit(1))
        other_body = s.scalar(
            select(LocalBodyRow.code).where(LocalBodyRow.state_code == "ka").order_by(LocalBodyRow.code.desc()).limit(1)
        )
        users = {
            "citizen": make_citizen(s, ka.rt, "ka", "9847000011"),  # the same person, signed up in Karnataka
            "secretary": make_officer(s, "ka.secretary.m", "secretary", "ka", ka_body),
            "other": make_officer(s, "ka.secretary.o", "secretary", "ka", other_body),
        }
    assert ka_body and other_body and ka_body != other_body
    ka_people = People(ka.rt, ka.client, ka_body, other_body, "", users)
    number, kl_people = _kerala_certificate(kl)

    sent = kl.client.post(
        "/api/v1/exchange/moves", json={"member": KA_MEMBER, "to_body": ka_body}, headers=kl_people.headers("citizen1")
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["record_count"] == 1
    # Received at the Karnataka body, not yet visible to the citizen there.
    waiting = ka.client.get(f"/api/v1/exchange/local-bodies/{ka_body}/transfers", headers=ka_people.headers("secretary")).json()
    assert [(t["status"], t["record_count"]) for t in waiting] == [("received", 1)]
    mine = ka.client.get("/api/v1/exchange/transfers", headers=ka_people.headers("citizen")).json()
    assert [(t["status"], t["records"]) for t in mine] == [("received", [])]
    # Only the receiving body's officers decide, with a reason.
    decision_url = f"/api/v1/exchange/transfers/{waiting[0]['id']}/decision"
    assert (
        ka.client.post(decision_url, json={"accept": True, "reason": "ok"}, headers=ka_people.headers("other")).status_code == 403
    )
    assert (
        ka.client.post(decision_url, json={"accept": True, "reason": ""}, headers=ka_people.headers("secretary")).status_code
        == 422
    )
    accepted = ka.client.post(
        decision_url, json={"accept": True, "reason": "records verified"}, headers=ka_people.headers("secretary")
    )
    assert accepted.status_code == 200, accepted.text
    assert (
        ka.client.post(
            decision_url, json={"accept": False, "reason": "again"}, headers=ka_people.headers("secretary")
        ).status_code
        == 409
    )
    theirs = kl.client.get("/api/v1/exchange/transfers", headers=kl_people.headers("citizen1")).json()
    assert [t["status"] for t in theirs] == ["sent"]  # told after the decision commits, through the outbox
    Worker(ka.rt.db).run_until_idle()
    # The citizen in Karnataka now sees the Kerala certificate, its signed credential with it.
    mine = ka.client.get("/api/v1/exchange/transfers", headers=ka_people.headers("citizen")).json()
    assert mine[0]["status"] == "accepted"
    records = mine[0]["records"]
    assert [(r["kind"], r["number"]) for r in records] == [("certificate", number)]
    assert records[0]["credential"]["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    # The sender learnt the decision; both nodes logged both calls.
    theirs = kl.client.get("/api/v1/exchange/transfers", headers=kl_people.headers("citizen1")).json()
    assert [(t["direction"], t["status"], t["reason"]) for t in theirs] == [("out", "accepted", "records verified")]
    kl_log = kl.client.get("/api/v1/exchange/access-log", headers=kl_people.headers("citizen1")).json()
    ka_log = ka.client.get("/api/v1/exchange/access-log", headers=ka_people.headers("citizen")).json()
    assert sorted((e["direction"], e["service"]) for e in kl_log) == [("in", "move-home-decision"), ("out", "move-home")]
    assert sorted((e["direction"], e["service"]) for e in ka_log) == [("in", "move-home"), ("out", "move-home-decision")]

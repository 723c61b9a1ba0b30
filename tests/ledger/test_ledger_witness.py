"""tlog-witness: add-checkpoint's checks and status codes, and two nodes witnessing each other."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tlog_scales import signing as ts_signing
from tlog_scales import tlog as ts_tlog

from nagara.app import create_app
from nagara.kit.settings import Settings
from nagara.ledger import checkpoint, keys, merkle, note
from nagara.ledger.checkpoint import Checkpoint, CosignatureVerifier
from nagara.ledger.cli import pair_environments
from nagara.ledger.client import verify_log
from nagara.ledger.models import WitnessedLog, WitnessStatus
from nagara.runtime import Runtime, build_runtime
from nagara.worker.registry import enqueue
from nagara.worker.runner import Worker
from tests.conftest import PACKS, DatabaseFactory
from tests.ledger.helpers import append_entries, checkpoints, free_socket, log_vkey, serving, witness_vkey

LOG = "example.com/witnessed-log"


class Log:
    """A log outside the node, submitting to the node's witness."""

    def __init__(self) -> None:
        self.signer = note.Ed25519Signer.generate(LOG)
        self.tree = merkle.MemoryHashStore()

    def grow(self, n: int) -> None:
        start = self.tree.size
        self.tree.append([merkle.leaf_hash(f"entry {i}".encode()) for i in range(start, start + n)])

    def signed(self, size: int | None = None, root: bytes | None = None, signer: note.Signer | None = None) -> str:
        size = self.tree.size if size is None else size
        root = self.tree.root(size) if root is None else root
        return checkpoint.sign_checkpoint(Checkpoint(LOG, size, root), [signer or self.signer])

    def body(self, old: int, signed: str | None = None, proof: list[bytes] | None = None) -> bytes:
        if proof is None:
            proof = self.tree.consistency_proof(old) if old else []
        lines = "".join(note.b64encode(h) + "\n" for h in proof)
        return f"old {old}\n{lines}\n{signed or self.signed()}".encode()


@pytest.fixture
def witness(ledger: Runtime, client: TestClient) -> tuple[Log, TestClient, Runtime]:
    log = Log()
    ledger.settings.ledger_witnessed_logs = [log.signer.vkey]
    return log, client, ledger


def _add(http: TestClient, body: bytes) -> httpx.Response:
    return http.post("/ledger/witness/add-checkpoint", content=body, headers={"Content-Type": "text/plain"})


def test_add_checkpoint_cosigns_consistent_checkpoints_only(witness: tuple[Log, TestClient, Runtime]) -> None:
    log, http, rt = witness
    verifier = CosignatureVerifier.from_vkey(witness_vkey(rt))
    assert http.get("/ledger/witness/vkey").text.strip() == verifier.vkey

    # The empty tree: old 0, no proof.
    first = _add(http, log.body(0, log.signed(0, merkle.EMPTY_ROOT)))
    assert first.status_code == 200, first.text
    log.grow(10)
    ok = _add(http, log.body(0))
    assert ok.status_code == 200, ok.text
    assert ok.text.startswith("\u2014 ") and ok.text.endswith("\n")
    cosigned = log.signed() + ok.text
    opened = note.open_note(cosigned, [verifier])
    assert [s.name for s in opened.verified] == [verifier.name]
    assert checkpoint.cosignature_timestamp(opened.verified[0]) > 0
    their = ts_tlog.Checkpoint.from_text(cosigned)
    their.verify(ts_signing.Vkey.from_string(verifier.vkey))  # an independent implementation checks the cosignature

    # Stale: the witness has moved on to 10.
    stale = _add(http, log.body(0))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.text == "10\n"

    # Consistent growth, with a proof from 10.
    log.grow(300)
    grown = _add(http, log.body(10))
    assert grown.status_code == 200, grown.text
    # The same checkpoint again is fine; the same size with another root is not.
    assert _add(http, log.body(310)).status_code == 200
    assert _add(http, log.body(310, log.signed(310, bytes(32)), [])).status_code == 422

    # A fork: a tree of 400 that does not extend the 310 the witness saw.
    fork = Log()
    fork.signer = log.signer
    fork.grow(5)
    fork.tree.append([merkle.leaf_hash(b"forged")])
    fork.grow(394)
    assert _add(http, fork.body(310)).status_code == 422
    # A proof that does not match, or a proof from 0.
    log.grow(90)
    assert _add(http, log.body(310, proof=[bytes(32)] * 3)).status_code == 422
    assert _add(http, log.body(0, proof=log.tree.consistency_proof(310))).status_code == 409

    with rt.db.unit_of_work(readonly=True) as s:
        state = s.get(WitnessedLog, LOG)
        assert state is not None
        assert (state.size, state.root_hash) == (310, log.tree.root(310))
    # tlog-witness monitoring: the latest cosigned checkpoint, with the log's signature and ours.
    monitored = http.get(f"/ledger/witness/{hashlib.sha256(LOG.encode()).hexdigest()}/checkpoint")
    assert monitored.status_code == 200
    opened = note.open_note(monitored.text, [verifier, log.signer.verifier()])
    assert len(opened.verified) == 2
    assert http.get(f"/ledger/witness/{'0' * 64}/checkpoint").status_code == 404


def test_add_checkpoint_refusals_use_the_specs_status_codes(witness: tuple[Log, TestClient, Runtime]) -> None:
    log, http, _ = witness
    log.grow(4)
    # Unknown origin: 404.
    stranger = note.Ed25519Signer.generate("example.com/unknown-log")
    unknown = checkpoint.sign_checkpoint(Checkpoint("example.com/unknown-log", 4, log.tree.root()), [stranger])
    assert _add(http, log.body(0, unknown)).status_code == 404
    # No signature by a trusted key: 403; a bad signature by the trusted key: 403.
    impostor = note.Ed25519Signer.generate(LOG)
    assert _add(http, log.body(0, log.signed(signer=impostor))).status_code == 403
    good = log.signed()
    forged_size = good.replace("\n4\n", "\n5\n", 1)
    assert forged_size != good
    assert _add(http, log.body(0, forged_size)).status_code == 403
    # Old size above the checkpoint's: 400; malformed bodies: 400.
    assert _add(http, log.body(5, proof=[])).status_code == 400
    for body in (b"old 0\n" + good.encode(), b"old 01\n\n" + good.encode(), b"new 0\n\n" + good.encode(), b"\xff\n\n"):
        assert _add(http, body).status_code == 400, body
    assert _add(http, b"old 0\nnot-base64\n\n" + good.encode()).status_code == 400
    assert _add(http, b"old 0\n\n" + good.encode() + b"x" * 70_000).status_code == 413
    # A checkpoint of size 0 must have the empty root: 422; a proof from 0 must be empty: 422.
    assert _add(http, log.body(0, log.signed(0, bytes(32)))).status_code == 422
    assert _add(http, log.body(0, proof=[bytes(32)])).status_code == 422
    # Nothing above was cosigned or remembered.
    assert _add(http, log.body(0)).status_code == 200


def _node(db_factory: DatabaseFactory, tmp: Path, origin: str, peer_port: int, keyring: dict[str, str]) -> Runtime:
    settings = Settings(
        env="test",
        database_url=db_factory.new_url(),
        var_dir=tmp,
        worker_embedded=False,
        log_json=False,
        ledger_origin=origin,
        ledger_key=keyring[f"{origin}:log"],
        ledger_witness_key=keyring[f"{origin}:witness"],
        ledger_witnessed_logs=[keyring[f"{peer_port}:log_vkey"]],
        ledger_witnesses={f"http://127.0.0.1:{peer_port}/ledger/witness": keyring[f"{peer_port}:witness_vkey"]},
        ledger_witness_quorum=1,
    )
    return build_runtime(settings)


def test_two_nodes_witness_each_other(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    """A Kerala node and a Karnataka node, each a uvicorn server on loopback, cosign each other's checkpoints."""
    socks = {"kl": free_socket(), "ka": free_socket()}
    ports = {s: sock.getsockname()[1] for s, sock in socks.items()}
    origins = {"kl": "ledger.kl.example.gov.in/v1", "ka": "ledger.ka.example.gov.in/v1"}
    keyring: dict[str, str] = {}
    for state, origin in origins.items():
        log_key, log_vk = note.generate_key(origin)
        witness_key, witness_vk = keys.generate_cosigner_key(origin.split("/")[0] + "/witness")
        keyring |= {f"{origin}:log": log_key, f"{origin}:witness": witness_key}
        keyring |= {f"{ports[state]}:log_vkey": log_vk, f"{ports[state]}:witness_vkey": witness_vk}
    nodes = {
        state: _node(db_factory, tmp_path / state, origins[state], ports[other], keyring)
        for state, other in (("kl", "ka"), ("ka", "kl"))
    }
    try:
        with (
            serving(create_app(runtime=nodes["kl"], start_worker=False), socks["kl"]) as kl_url,
            serving(create_app(runtime=nodes["ka"], start_worker=False), socks["ka"]) as ka_url,
            httpx.Client(timeout=10) as http,
        ):
            urls = {"kl": kl_url, "ka": ka_url}
            for rounds, n in enumerate((3, 40), start=1):
                for state, rt in nodes.items():
                    append_entries(rt, n, f"{state.upper()}-R{rounds}")
                for rt in nodes.values():
                    with rt.db.unit_of_work() as s:  # the jobs the schedule adds every second, run now
                        enqueue(s, "ledger.integrate", {})
                        enqueue(s, "ledger.witness", {})
                    Worker(rt.db).run_until_idle()  # integrate, then submit the checkpoint to the other node's witness
                for state, rt in nodes.items():
                    other = "ka" if state == "kl" else "kl"
                    served = http.get(f"{urls[state]}/ledger/checkpoint")
                    assert served.status_code == 200, served.text
                    cp, opened = checkpoint.open_checkpoint(
                        served.text,
                        [checkpoint.load_verifier(log_vkey(rt)), checkpoint.load_verifier(witness_vkey(nodes[other]))],
                        origin=origins[state],
                    )
                    assert cp.size == checkpoints(rt)[-1].size
                    assert len(opened.verified) == 2, served.text  # the log's signature and the other state's cosignature
                    report = verify_log(
                        http, urls[state], vkey=log_vkey(rt), witness_vkeys=[witness_vkey(nodes[other])], quorum=1
                    )
                    assert report.witnesses == [keys.key_label(*_name_and_id(witness_vkey(nodes[other])))]
            for state, rt in nodes.items():
                with rt.db.unit_of_work(readonly=True) as s:
                    statuses = list(s.scalars(select(WitnessStatus)))
                    witnessed = list(s.scalars(select(WitnessedLog)))
                assert [(w.size, w.last_error) for w in statuses] == [(checkpoints(rt)[-1].size, None)]
                other = nodes["ka" if state == "kl" else "kl"]
                assert [(w.origin, w.size) for w in witnessed] == [(checkpoints(other)[-1].origin, checkpoints(other)[-1].size)]
    finally:
        for rt in nodes.values():
            rt.db.dispose()


def _name_and_id(vkey: str) -> tuple[str, int]:
    parsed = note.parse_vkey(vkey)
    return parsed.name, parsed.key_id


def test_a_checkpoint_waits_for_its_quorum_before_it_is_served(ledger: Runtime, client: TestClient) -> None:
    _, witness_vk = keys.generate_cosigner_key("witness.example/unreachable")
    ledger.settings.ledger_witnesses = {"http://127.0.0.1:9/ledger/witness": witness_vk}
    ledger.settings.ledger_witness_quorum = 1
    append_entries(ledger, 3, "Q")
    Worker(ledger.db).run_once()
    assert checkpoints(ledger)[-1].size == 3
    assert client.get("/ledger/checkpoint").status_code == 404  # signed, but no witness has cosigned it
    assert client.get("/ledger/tile/entries/000.p/3").status_code == 404
    with ledger.db.unit_of_work(readonly=True) as s:
        status = s.get(WitnessStatus, keys.key_label(*_name_and_id(witness_vk)))
    assert status is not None
    assert status.last_error is not None
    assert "unreachable" in status.last_error
    ledger.settings.ledger_witness_quorum = 0
    assert client.get("/ledger/checkpoint").status_code == 200


def test_the_demo_pair_settings_make_each_node_witness_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    envs = pair_environments(tmp_path / "pair", PACKS, 8101)
    again = pair_environments(tmp_path / "pair", PACKS, 8101)
    assert envs == again  # keys are made once and kept
    kl, ka = envs["kl"], envs["ka"]
    assert (kl["NAGARA_PORT"], ka["NAGARA_PORT"]) == ("8101", "8102")
    assert kl["NAGARA_LEDGER_ORIGIN"] == "ledger.kl.example.gov.in/v1"
    assert ka["NAGARA_LEDGER_ORIGIN"] == "ledger.ka.example.gov.in/v1"

    def from_env(env: dict[str, str]) -> Settings:
        for key, value in env.items():
            monkeypatch.setenv(key, value)  # as the child process reads them, JSON values included
        return Settings()

    for mine, other in ((kl, ka), (ka, kl)):
        other_log = keys.log_signer(from_env(other), other["NAGARA_LEDGER_ORIGIN"])
        settings = from_env(mine)
        other_witness = keys.load_cosigner(other["NAGARA_LEDGER_WITNESS_KEY"])
        assert list(keys.witnessed_verifiers(settings)) == [other["NAGARA_LEDGER_ORIGIN"]]
        assert keys.witnessed_verifiers(settings)[other["NAGARA_LEDGER_ORIGIN"]][0].key_id == other_log.key_id
        [target] = keys.witness_targets(settings)
        assert target.url == f"http://127.0.0.1:{other['NAGARA_PORT']}/ledger/witness"
        assert target.verifier.vkey == other_witness.vkey
        assert settings.ledger_witness_quorum == 1

"""The public read API: tlog-tiles resources read by an independent client (tlog-scales), proofs, subject entries."""

from __future__ import annotations

import gzip
import random

import pytest
from fastapi.testclient import TestClient
from tlog_scales import reader as ts_reader
from tlog_scales import signing as ts_signing

from nagara.ledger import checkpoint, merkle, note, proof, tiles
from nagara.ledger.client import VerificationError, check_proof
from nagara.runtime import Runtime
from tests.ledger.helpers import ORIGIN, append_entries, bulk_pending, integrate_all, log_vkey


class ClientBackend:
    """A tlog-scales TilesBackend reading our served log through the test client."""

    def __init__(self, http: TestClient, prefix: str = "/ledger") -> None:
        self.http, self.prefix = http, prefix
        self.paths: list[str] = []

    def get(self, *path: str) -> bytes | None:
        self.paths.append("/".join(path))
        response = self.http.get(self.prefix + "/" + "/".join(path))
        return response.content if response.status_code == 200 else None


@pytest.fixture
def served(ledger: Runtime, client: TestClient) -> tuple[Runtime, TestClient, list[str]]:
    subjects = bulk_pending(ledger, 600, "S")
    integrate_all(ledger, batch_size=250)
    return ledger, client, subjects


def _bodies(http: TestClient, size: int) -> list[bytes]:
    bodies: list[bytes] = []
    for n in range(-(-size // 256)):
        width = tiles.tile_width(0, n, size)
        bodies += tiles.decode_entry_bundle(http.get("/ledger/" + tiles.Tile(-1, n, width).path).content, width)
    return bodies


def test_the_checkpoint_and_vkey_are_served_as_text(served: tuple[Runtime, TestClient, list[str]]) -> None:
    rt, http, _ = served
    response = http.get("/ledger/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=1"
    vkey = http.get("/ledger/vkey").text.strip()
    assert vkey == log_vkey(rt)
    cp, _ = checkpoint.open_checkpoint(response.text, [checkpoint.load_verifier(vkey)], origin=ORIGIN)
    assert cp.size == 600


def test_tiles_follow_tlog_tiles(served: tuple[Runtime, TestClient, list[str]]) -> None:
    _, http, _ = served
    full = http.get("/ledger/tile/0/001")
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(full.content) == 256 * 32
    partial = http.get("/ledger/tile/0/002.p/88")
    assert len(partial.content) == 88 * 32
    # Any narrower version of a partial or full tile is a prefix of it: a client that saw an older checkpoint reads it.
    assert http.get("/ledger/tile/0/002.p/5").content == partial.content[: 5 * 32]
    assert http.get("/ledger/tile/0/001.p/255").content == full.content[: 255 * 32]
    assert len(http.get("/ledger/tile/1/000.p/2").content) == 64
    bundle = http.get("/ledger/tile/entries/002.p/88")
    assert len(tiles.decode_entry_bundle(bundle.content, 88)) == 88
    assert (
        tiles.decode_entry_bundle(http.get("/ledger/tile/entries/002.p/3").content, 3)
        == tiles.decode_entry_bundle(bundle.content, 88)[:3]
    )
    for missing in ("tile/0/002", "tile/0/002.p/89", "tile/0/003.p/1", "tile/1/000", "tile/2/000.p/1", "tile/entries/002"):
        response = http.get("/ledger/" + missing)
        assert response.status_code == 404, missing
        assert response.headers["content-type"] == "application/problem+json"
    for malformed in ("tile/0/1", "tile/00/001", "tile/0/x000/001", "tile/64/000", "tile/0/001.p/256", "tile/0/001.p/0"):
        assert http.get("/ledger/" + malformed).status_code == 404, malformed


def test_entry_bundles_are_compressed_for_clients_that_accept_gzip(served: tuple[Runtime, TestClient, list[str]]) -> None:
    _, http, _ = served
    plain = http.get("/ledger/tile/entries/000", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = http.get("/ledger/tile/entries/000", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    assert raw.content == plain.content  # httpx decoded it
    assert len(gzip.compress(plain.content)) < len(plain.content)


def test_tlog_scales_reads_and_verifies_our_served_log(served: tuple[Runtime, TestClient, list[str]]) -> None:
    rt, http, _ = served
    bulk_pending(rt, 65536 + 100 - 600, "L")  # past a full level-1 tile: tiles on levels 0, 1 and 2
    integrate_all(rt)
    reader = ts_reader.TilesReader(ClientBackend(http))
    cp = reader.get_checkpoint()
    cp.verify(ts_signing.Vkey.from_string(log_vkey(rt)))
    assert cp.size == 65636
    assert reader.calculate_root_hash() == cp.root_hash
    rng = random.Random(4)
    for i in [0, 255, 256, 65535, 65635, *rng.sample(range(cp.size), 10)]:
        entry = reader.get_entry(i)
        their = reader.get_inclusion_proof(i, cp.size)
        their.check(merkle.leaf_hash(entry), cp.root_hash)
        ours = http.get("/ledger/proof/inclusion", params={"index": i, "size": cp.size}).json()
        assert [note.b64decode(h) for h in ours["hashes"]] == their.node_hashes
    for m in [1, 256, 600, 65536, 65635, cp.size]:
        their_c = reader.get_consistency_proof(m, cp.size)
        ours = http.get("/ledger/proof/consistency", params={"from": m, "to": cp.size}).json()
        assert (ours["from"], ours["to"]) == (m, cp.size)
        assert [note.b64decode(h) for h in ours["hashes"]] == their_c.node_hashes
        old_root = merkle.root_hash([merkle.leaf_hash(b) for b in _bodies(http, m)]) if m <= 600 else None
        if old_root is not None:
            their_c.check(old_root, cp.root_hash)


def test_proof_helpers_refuse_what_the_published_tree_cannot_prove(served: tuple[Runtime, TestClient, list[str]]) -> None:
    _, http, _ = served
    assert http.get("/ledger/proof/inclusion", params={"index": 600, "size": 600}).status_code == 400
    assert http.get("/ledger/proof/inclusion", params={"index": 1, "size": 601}).status_code == 404
    assert http.get("/ledger/proof/consistency", params={"from": 10, "to": 5}).status_code == 400
    assert http.get("/ledger/proof/consistency", params={"from": 1, "to": 601}).status_code == 404
    bad = http.get("/ledger/proof/inclusion", params={"index": -1, "size": 5})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_a_subjects_entries_come_with_offline_proofs(ledger: Runtime, client: TestClient) -> None:
    subjects = append_entries(ledger, 40, "KL-TVMCORP-BR-2026")
    target = subjects[17]
    waiting = client.get(f"/ledger/entries/{target}").json()
    assert (waiting["entries"], waiting["pending"]) == ([], 1)
    integrate_all(ledger)
    append_entries(ledger, 3, "KL-TVMCORP-BR-2026")  # KL-TVMCORP-BR-2026-0..2 again: a subject with several entries
    integrate_all(ledger)
    body = client.get(f"/ledger/entries/{target}").json()
    assert body["pending"] == 0
    assert body["tree_size"] == 43
    [found] = body["entries"]
    assert found["entry"]["subject"] == target
    assert found["entry"]["actor_role"] == "section_clerk"
    vkey = log_vkey(ledger)
    parsed = proof.parse_proof(found["proof"])
    leaf = merkle.leaf_hash(parsed.extra)
    assert note.b64encode(leaf) == found["leaf_hash"]
    verified = proof.verify_proof(found["proof"], leaf, [vkey], origin=ORIGIN)
    assert verified.index == found["index"] == 17
    several = client.get("/ledger/entries/KL-TVMCORP-BR-2026-1").json()
    assert [e["index"] for e in several["entries"]] == [1, 41]
    assert client.get("/ledger/entries/NO-SUCH-SUBJECT").json()["entries"] == []


def test_the_ledger_is_public_and_outside_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/ledger/checkpoint" in spec["paths"]
    assert "/ledger/witness/add-checkpoint" in spec["paths"]
    assert not any(p.startswith("/api/v1/ledger") for p in spec["paths"])


def test_check_proof_verifies_offline_and_rejects_tampering(ledger: Runtime, client: TestClient) -> None:
    subjects = append_entries(ledger, 5, "CERT")
    integrate_all(ledger)
    text = client.get(f"/ledger/entries/{subjects[3]}").json()["entries"][0]["proof"]
    vkey = log_vkey(ledger)
    assert check_proof(text, vkey=vkey, subject=subjects[3]).index == 3
    with pytest.raises(VerificationError, match="subject"):
        check_proof(text, vkey=vkey, subject=subjects[2])
    other_key = note.generate_key(ORIGIN)[1]
    with pytest.raises(VerificationError):
        check_proof(text, vkey=other_key)
    lines = text.split("\n")
    lines[3] = note.b64encode(bytes(32))  # first inclusion proof hash
    with pytest.raises(VerificationError, match="inclusion"):
        check_proof("\n".join(lines), vkey=vkey)

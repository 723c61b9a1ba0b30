"""Interoperability with an independent implementation: the tlog-scales package.

tlog-scales reads tlog-tiles logs (tiles, entry bundles, checkpoints), builds
and checks RFC 9162 proofs, verifies Ed25519 (0x01) and cosignature/v1 (0x04)
checkpoint signatures, writes tiled logs, and prints tlog-proof text.
"""

from __future__ import annotations

import argparse
import base64
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tlog_scales import backend as ts_backend
from tlog_scales import cli as ts_cli
from tlog_scales import reader as ts_reader
from tlog_scales import signing as ts_signing
from tlog_scales import tlog as ts_tlog
from tlog_scales import writer as ts_writer

from nagara.ledger import checkpoint, merkle, note, proof, tiles
from nagara.ledger.checkpoint import Checkpoint, CosignatureSigner
from nagara.ledger.merkle import MerkleProofError, NodeIndex

ORIGIN = "example.com/nagara-test-log"
LOG_SEED = b"\x42" * 32
WITNESS_SEED = b"\x43" * 32


def _log_signer() -> note.Ed25519Signer:
    return note.Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(LOG_SEED))


def _witness() -> CosignatureSigner:
    key = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
    return CosignatureSigner("witness.example/w1", key, clock=lambda: 1700000123)


def _flip_b64_line(text: str, prefix: str) -> str:
    """Flip one bit inside the base64 payload of the first line starting with ``prefix``."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            head, payload = line.rsplit(" ", 1) if " " in line else ("", line)
            raw = bytearray(base64.b64decode(payload))
            raw[-1] ^= 1
            new = base64.b64encode(bytes(raw)).decode()
            lines[i] = f"{head} {new}" if head else new
            return "\n".join(lines)
    raise AssertionError(f"no line starts with {prefix!r}")


# --- signed checkpoints -------------------------------------------------------


def _signed(size: int = 3) -> tuple[str, Checkpoint]:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(size)]
    cp = Checkpoint(ORIGIN, size, merkle.root_hash(leaves))
    return checkpoint.sign_checkpoint(cp, [_log_signer()]), cp


def test_same_key_strings() -> None:
    theirs = ts_signing.PlainEd25519Signer(ORIGIN, LOG_SEED)
    assert theirs.vkey.serialize() == _log_signer().vkey
    their_witness = ts_signing.Vkey("witness.example/w1", None, 4, _witness().verifier().public_key.public_bytes_raw())
    assert their_witness.serialize() == _witness().vkey


def test_tlog_scales_verifies_our_checkpoint() -> None:
    signed, cp = _signed()
    theirs = ts_tlog.Checkpoint.from_text(signed)
    assert (theirs.origin, theirs.size, theirs.root_hash) == (cp.origin, cp.size, cp.root_hash)
    assert theirs.serialize() == signed
    theirs.verify(ts_signing.Vkey.from_string(_log_signer().vkey))


def test_we_verify_tlog_scales_checkpoint() -> None:
    signer = ts_signing.PlainEd25519Signer(ORIGIN, LOG_SEED)
    theirs = ts_tlog.Checkpoint.make_signed(ORIGIN, 7, b"\x01" * 32, [signer])
    text = theirs.serialize()
    got, _ = checkpoint.open_checkpoint(text, [checkpoint.load_verifier(signer.vkey.serialize())])
    assert got == Checkpoint(ORIGIN, 7, b"\x01" * 32)
    assert checkpoint.sign_checkpoint(got, [_log_signer()]) == text


@pytest.mark.parametrize("what", ["root", "size", "signature"])
def test_tampered_checkpoint_rejected_by_both(what: str) -> None:
    signed, cp = _signed()
    if what == "root":
        bad = signed.replace(base64.b64encode(cp.root_hash).decode(), base64.b64encode(b"\x00" * 32).decode())
    elif what == "size":
        bad = signed.replace("\n3\n", "\n4\n", 1)
    else:
        bad = _flip_b64_line(signed, "\u2014 ")
    assert bad != signed
    with pytest.raises(note.InvalidSignatureError):
        checkpoint.open_checkpoint(bad, [_log_signer().verifier()])
    with pytest.raises(InvalidSignature):
        ts_tlog.Checkpoint.from_text(bad).verify(ts_signing.Vkey.from_string(_log_signer().vkey))


def test_tlog_scales_verifies_our_cosignature() -> None:
    signed, cp = _signed()
    witness = _witness()
    cosigned = signed + witness.cosign(cp.format()).line() + "\n"
    their_cp = ts_tlog.Checkpoint.from_text(cosigned)
    their_vkey = ts_signing.Vkey.from_string(witness.vkey)
    their_cp.verify(their_vkey)
    valid = ts_signing.VkeySet(their_vkey, ts_signing.Vkey.from_string(_log_signer().vkey)).verify(their_cp.signatures, their_cp)
    assert len(valid) == 2
    sig = next(s for s in their_cp.signatures if s.name == witness.name)
    assert ts_signing.Ed25519CosignatureVerifier.get_timestamp(sig.payload) == 1700000123
    opened = note.open_note(cosigned, [witness.verifier()])
    assert [s.name for s in opened.verified] == [witness.name]


def test_tampered_cosignature_rejected_by_both() -> None:
    signed, cp = _signed()
    witness = _witness()
    sig = witness.cosign(cp.format())
    # Change the timestamp but keep the Ed25519 signature.
    later = note.Signature(sig.name, sig.key_id, (1700000124).to_bytes(8, "big") + sig.signature[8:])
    bad = signed + later.line() + "\n"
    with pytest.raises(note.InvalidSignatureError):
        note.open_note(bad, [witness.verifier()])
    with pytest.raises(InvalidSignature):
        ts_tlog.Checkpoint.from_text(bad).verify(ts_signing.Vkey.from_string(witness.vkey))


# --- Merkle proofs ----------------------------------------------------------


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def test_tlog_scales_checks_our_proofs() -> None:
    leaves = _leaves(70)
    store = merkle.MemoryHashStore()
    store.append(leaves)
    for n in range(1, 71):
        root = store.root(n)
        for i in range(n):
            p = store.inclusion_proof(i, n)
            ts_tlog.InclusionProof(i, n, p).check(leaves[i], root)
        for m in range(1, n + 1):
            p = store.consistency_proof(m, n)
            ts_tlog.ConsistencyProof(m, n, p).check(store.root(m), root)


def test_tlog_scales_checks_our_proofs_random() -> None:
    rng = random.Random(1)
    leaves = _leaves(5000)
    store = merkle.MemoryHashStore()
    store.append(leaves)
    for _ in range(300):
        n = rng.randint(1, 5000)
        i, m = rng.randrange(n), rng.randint(1, n)
        ts_tlog.InclusionProof(i, n, store.inclusion_proof(i, n)).check(leaves[i], store.root(n))
        ts_tlog.ConsistencyProof(m, n, store.consistency_proof(m, n)).check(store.root(m), store.root(n))


def test_tampered_proofs_rejected_by_both() -> None:
    leaves = _leaves(1000)
    store = merkle.MemoryHashStore()
    store.append(leaves)
    n, i, m = 1000, 377, 600
    root, old_root = store.root(n), store.root(m)
    inc = store.inclusion_proof(i, n)
    con = store.consistency_proof(m, n)
    flip = bytes([inc[2][0] ^ 1]) + inc[2][1:]
    cases_inc: list[tuple[bytes, Sequence[bytes], bytes]] = [
        (leaves[i + 1], inc, root),  # tampered entry
        (leaves[i], inc, bytes(32)),  # tampered root
        (leaves[i], [*inc[:2], flip, *inc[3:]], root),  # tampered node
        (leaves[i], inc[:-1], root),  # missing node
        (leaves[i], [*inc, inc[0]], root),  # extra node
    ]
    for leaf, p, r in cases_inc:
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(leaf, i, n, p, r)
        with pytest.raises(ts_tlog.InclusionProofInvalid):
            ts_tlog.InclusionProof(i, n, list(p)).check(leaf, r)
    cflip = bytes([con[1][0] ^ 1]) + con[1][1:]
    cases_con: list[tuple[Sequence[bytes], bytes, bytes]] = [
        (con, bytes(32), root),
        (con, old_root, bytes(32)),
        ([con[0], cflip, *con[2:]], old_root, root),
        (con[:-1], old_root, root),
        ([*con, con[0]], old_root, root),
    ]
    for p, r1, r2 in cases_con:
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(m, n, p, r1, r2)
        with pytest.raises(ts_tlog.ConsistencyProofInvalid):
            ts_tlog.ConsistencyProof(m, n, list(p)).check(r1, r2)


def test_policy_difference_on_empty_old_tree() -> None:
    """tlog-scales accepts an empty proof from size 0; we follow the vectors and refuse."""
    root = merkle.root_hash(_leaves(5))
    ts_tlog.ConsistencyProof(0, 5, []).check(merkle.EMPTY_ROOT, root)
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(0, 5, [], merkle.EMPTY_ROOT, root)


# --- tiled logs on disk -------------------------------------------------------


def _entries(n: int) -> list[bytes]:
    return [f"entry {i} ".encode() * (1 + i % 5) for i in range(n)]


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _publish(root: Path, batches: Sequence[int]) -> tuple[list[bytes], merkle.MemoryHashStore]:
    """Write a tiled log the way a tlog-tiles server would, one checkpoint per batch."""
    store = merkle.MemoryHashStore()
    entries: list[bytes] = []
    total = sum(batches)
    all_entries = _entries(total)
    for b in batches:
        old = store.size
        batch = all_entries[old : old + b]
        entries.extend(batch)
        store.append([merkle.leaf_hash(e) for e in batch])
        for tile in tiles.new_tiles(old, store.size):
            _write(root, tile.path, tiles.read_tile(tile, store))
            if tile.level == 0:
                bundle = tiles.Tile(tiles.ENTRIES_LEVEL, tile.index, tile.width)
                start = tile.index * tiles.TILE_WIDTH
                _write(root, bundle.path, tiles.encode_entry_bundle(entries[start : start + tile.width]))
        cp = Checkpoint(ORIGIN, store.size, store.root())
        _write(root, "checkpoint", checkpoint.sign_checkpoint(cp, [_log_signer()]).encode())
    return entries, store


class TileDirReader:
    """Our own tile client: a HashReader that reads hashes out of tile files."""

    def __init__(self, root: Path, size: int) -> None:
        self.root, self.size = root, size

    def read_hashes(self, indexes: Sequence[NodeIndex]) -> list[bytes]:
        out = []
        for level, index in indexes:
            tile, start, end = tiles.tile_for_hash(level, index, self.size)
            out.append(tiles.hash_from_tile((self.root / tile.path).read_bytes(), start, end))
        return out


def _their_reader(root: Path) -> ts_reader.TilesReader:
    return ts_reader.TilesReader(ts_backend.LocalBackend(root))


@pytest.fixture(scope="module")
def our_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], merkle.MemoryHashStore]:
    root = tmp_path_factory.mktemp("our-log")
    # Sizes 1, 256, 556, 65556, 70000: full and partial tiles on levels 0-2.
    entries, store = _publish(root, [1, 255, 300, 65000, 4444])
    return root, entries, store


def test_tlog_scales_reads_our_tiles(our_log: tuple[Path, list[bytes], merkle.MemoryHashStore]) -> None:
    root, entries, store = our_log
    reader = _their_reader(root)
    cp = reader.get_checkpoint()
    cp.verify(ts_signing.Vkey.from_string(_log_signer().vkey))
    assert cp.size == 70000 == store.size
    assert reader.calculate_root_hash() == cp.root_hash == store.root()
    rng = random.Random(7)
    for i in [0, 255, 256, 65535, 65536, 69999, *rng.sample(range(70000), 20)]:
        assert reader.get_entry(i) == entries[i]
        their = reader.get_inclusion_proof(i, cp.size)
        assert their.node_hashes == store.inclusion_proof(i)
        their.check(merkle.leaf_hash(entries[i]), cp.root_hash)
    for m in [1, 255, 256, 257, 65536, 69999, 70000, *rng.sample(range(1, 70000), 10)]:
        their_c = reader.get_consistency_proof(m, cp.size)
        assert their_c.node_hashes == store.consistency_proof(m)
        their_c.check(store.root(m), cp.root_hash)


def test_our_tile_client_reads_our_tiles(
    our_log: tuple[Path, list[bytes], merkle.MemoryHashStore],
) -> None:
    root, _, store = our_log
    client = TileDirReader(root, store.size)
    assert merkle.stored_root(store.size, client) == store.root()
    assert merkle.stored_inclusion_proof(12345, store.size, client) == store.inclusion_proof(12345)
    assert merkle.stored_consistency_proof(556, store.size, client) == store.consistency_proof(556)


def test_tlog_scales_proof_text_verified_by_us(
    our_log: tuple[Path, list[bytes], merkle.MemoryHashStore],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, entries, store = our_log
    index = 4242
    ts_cli.cmd_gen_proof(argparse.Namespace(location=str(root), leaf_index=index))
    text = capsys.readouterr().out
    leaf = merkle.leaf_hash(entries[index])
    verified = proof.verify_proof(text, leaf, [_log_signer().vkey], origin=ORIGIN)
    assert verified.index == index
    signed = (root / "checkpoint").read_text()
    assert proof.build_proof(index, leaf, store.inclusion_proof(index), signed) == text
    with pytest.raises(proof.TlogProofError):
        proof.verify_proof(text, merkle.leaf_hash(entries[index + 1]), [_log_signer().vkey])


def test_tampered_tiles_rejected_by_both(tmp_path: Path) -> None:
    entries, store = _publish(tmp_path, [300])
    signed = (tmp_path / "checkpoint").read_text()
    cp, _ = checkpoint.open_checkpoint(signed, [_log_signer().verifier()])

    # Tampered entry in an entry bundle.
    bundle = tmp_path / tiles.Tile(tiles.ENTRIES_LEVEL, 1, 44).path
    good_bundle = bundle.read_bytes()
    served = tiles.decode_entry_bundle(good_bundle, width=44)
    served[3] = b"forged" + served[3][6:]
    bundle.write_bytes(tiles.encode_entry_bundle(served))
    ours_leaf = merkle.leaf_hash(tiles.decode_entry_bundle(bundle.read_bytes())[3])
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(ours_leaf, 259, cp.size, store.inclusion_proof(259), cp.root_hash)
    with pytest.raises(ts_tlog.InclusionProofInvalid):
        ts_cli.cmd_get_leaf(argparse.Namespace(location=str(tmp_path), leaf_index=259, check=True))
    bundle.write_bytes(good_bundle)

    # Tampered hash in a level-0 tile. The root is read from the level-1 tile,
    # so the forgery shows up in any proof that covers the tampered subtree.
    tile = tmp_path / tiles.Tile(0, 0).path
    data = bytearray(tile.read_bytes())
    data[32 * 7] ^= 1
    tile.write_bytes(bytes(data))
    client = TileDirReader(tmp_path, cp.size)
    assert merkle.stored_root(cp.size, client) == cp.root_hash
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(
            merkle.leaf_hash(entries[200]),
            200,
            cp.size,
            merkle.stored_inclusion_proof(200, cp.size, client),
            cp.root_hash,
        )
    reader = _their_reader(tmp_path)
    reader.get_checkpoint()
    with pytest.raises(ts_tlog.InclusionProofInvalid):
        reader.get_inclusion_proof(200, cp.size).check(merkle.leaf_hash(entries[200]), cp.root_hash)


def test_we_read_tlog_scales_log(tmp_path: Path) -> None:
    root = tmp_path / "their-log"
    signer = ts_signing.PlainEd25519Signer(ORIGIN, LOG_SEED)
    writer = ts_writer.TilesWriter.create(root, ORIGIN)
    entries = _entries(66000)
    store = merkle.MemoryHashStore()
    pos = 0
    for batch in (5, 251, 700, 64980, 64):
        for e in entries[pos : pos + batch]:
            writer.add_leaf(e)
        writer.commit([signer])
        store.append([merkle.leaf_hash(e) for e in entries[pos : pos + batch]])
        pos += batch
        cp, _ = checkpoint.open_checkpoint((root / "checkpoint").read_text(), [_log_signer().verifier()], origin=ORIGIN)
        assert (cp.size, cp.root_hash) == (store.size, store.root())

    seen = 0
    for path in sorted((root / "tile").rglob("*")):
        if path.is_dir():
            continue
        tile = tiles.parse_tile_path(path.relative_to(root).as_posix())
        assert tile.path == path.relative_to(root).as_posix()
        data = path.read_bytes()
        if tile.is_entries:
            start = tile.index * tiles.TILE_WIDTH
            assert tiles.decode_entry_bundle(data, tile.width) == entries[start : start + tile.width]
        else:
            assert data == tiles.read_tile(tile, store)
        seen += 1
    assert seen > 2 * 257
    client = TileDirReader(root, store.size)
    assert merkle.stored_root(store.size, client) == store.root()
    assert merkle.stored_inclusion_proof(65000, store.size, client) == store.inclusion_proof(65000)

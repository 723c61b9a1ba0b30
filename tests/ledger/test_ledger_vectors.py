"""Shared test vectors: transparency-dev Merkle proofs, RFC 6962 roots, Go sumdb note."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from nagara.ledger import checkpoint, merkle, note

PRIMARY_SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def _shared_dir() -> Path | None:
    if PRIMARY_SHARED.is_dir():
        return PRIMARY_SHARED
    env = os.environ.get("NAGARA_SHARED_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    return None


SHARED = _shared_dir()
MISSING = (
    f"shared test data directory not found at {PRIMARY_SHARED} "
    f"(NAGARA_SHARED_DIR={os.environ.get('NAGARA_SHARED_DIR')!r}); "
    "the ledger vectors cannot run without it"
)


def _files(pattern: str) -> list[Any]:
    """Vector files, or one sentinel parameter that fails when the data is missing."""
    if SHARED is None:
        return [pytest.param(None, id="shared-data-missing")]
    base = SHARED / "testdata" / "merkle"
    files = sorted(base.glob(pattern))
    if not files:
        return [pytest.param(None, id=f"no-files-{pattern}")]
    return [pytest.param(f, id=str(f.relative_to(base))) for f in files]


def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        pytest.fail(MISSING)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


def _roots() -> tuple[list[bytes], list[bytes]]:
    if SHARED is None:
        pytest.fail(MISSING)
    data = json.loads((SHARED / "testdata" / "merkle" / "roots.json").read_text())
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in data["leaf_inputs_hex"]]
    roots = [bytes.fromhex(x) for x in data["root_hashes_hex_by_size"]]
    return leaves, roots


def test_shared_data_present() -> None:
    if SHARED is None:
        pytest.fail(MISSING)
    base = SHARED / "testdata" / "merkle"
    assert len(list(base.glob("inclusion/**/*.json"))) >= 80
    assert len(list(base.glob("consistency/**/*.json"))) >= 80
    assert (SHARED / "testdata" / "signed-note.json").is_file()


@pytest.mark.parametrize("path", _files("inclusion/**/*.json"))
def test_inclusion_vector(path: Path | None) -> None:
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(merkle.MerkleProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", _files("consistency/**/*.json"))
def test_consistency_vector(path: Path | None) -> None:
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(merkle.MerkleProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


@pytest.mark.parametrize("path", _files("inclusion/[0-9]/happy-path.json"))
def test_inclusion_vector_generation(path: Path | None) -> None:
    """Our generated proofs equal the valid vectors (all over the roots.json leaves)."""
    v = _load(path)
    leaves, roots = _roots()
    size = v["treeSize"]
    assert roots[size] == _b64(v["root"])
    assert leaves[v["leafIdx"]] == _b64(v["leafHash"])
    want = [_b64(p) for p in v["proof"] or []]
    assert merkle.inclusion_proof(leaves[:size], v["leafIdx"]) == want
    store = merkle.MemoryHashStore()
    store.append(leaves[:size])
    assert store.inclusion_proof(v["leafIdx"]) == want


@pytest.mark.parametrize("path", _files("consistency/[0-9]/happy-path.json"))
def test_consistency_vector_generation(path: Path | None) -> None:
    v = _load(path)
    leaves, roots = _roots()
    assert roots[v["size1"]] == _b64(v["root1"])
    assert roots[v["size2"]] == _b64(v["root2"])
    want = [_b64(p) for p in v["proof"] or []]
    assert merkle.consistency_proof(leaves[: v["size2"]], v["size1"]) == want
    store = merkle.MemoryHashStore()
    store.append(leaves)
    assert store.consistency_proof(v["size1"], v["size2"]) == want


def test_roots_json() -> None:
    leaves, roots = _roots()
    assert len(roots) == len(leaves) + 1
    for size, want in enumerate(roots):
        assert merkle.root_hash(leaves[:size]) == want
    # The incremental store, fed in uneven batches, gives the same roots.
    store = merkle.MemoryHashStore()
    for batch in (leaves[:1], leaves[1:4], [], leaves[4:7], leaves[7:]):
        store.append(batch)
        assert store.root() == roots[store.size]
    for size, want in enumerate(roots):
        assert store.root(size) == want


def _signed_note_vector() -> dict[str, Any]:
    if SHARED is None:
        pytest.fail(MISSING)
    data: dict[str, Any] = json.loads((SHARED / "testdata" / "signed-note.json").read_text())
    return data


def test_signed_note_vector_sign() -> None:
    v = _signed_note_vector()
    signer = note.Ed25519Signer.from_private_key_string(v["skey"])
    assert signer.private_key_string() == v["skey"]
    assert signer.vkey == v["vkey"]
    assert note.sign_note(v["text"], [signer]) == v["signed_note"]


def test_signed_note_vector_open() -> None:
    v = _signed_note_vector()
    verifier = note.Ed25519Verifier.from_vkey(v["vkey"])
    assert verifier.vkey == v["vkey"]
    opened = note.open_note(v["signed_note"], [verifier])
    assert opened.text == v["text"]
    assert [(s.name, s.key_id) for s in opened.verified] == [("PeterNeumann", 0xC74F20A3)]
    assert opened.unverified == ()
    # Bytes input works too, and the parsed note formats back identically.
    assert note.open_note(v["signed_note"].encode(), [verifier]).text == v["text"]
    assert note.parse_note(v["signed_note"]).format() == v["signed_note"]


def test_signed_note_vector_bad_vkeys() -> None:
    v = _signed_note_vector()
    for bad in v["bad_vkeys"]:
        with pytest.raises(note.InvalidKeyError):
            note.Ed25519Verifier.from_vkey(bad)
        with pytest.raises(note.InvalidKeyError):
            checkpoint.load_verifier(bad)


def test_signed_note_vector_tampered() -> None:
    v = _signed_note_vector()
    verifier = note.Ed25519Verifier.from_vkey(v["vkey"])
    tampered = v["signed_note"].replace("cryptography", "cryptografy")
    with pytest.raises(note.InvalidSignatureError):
        note.open_note(tampered, [verifier])


# Example from the C2SP signed-note specification (verifier key and note).
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ER"
    "YNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_spec_example_note() -> None:
    opened = note.open_note(SPEC_NOTE, [note.Ed25519Verifier.from_vkey(SPEC_VKEY)])
    assert opened.text == "This is an example message.\n"


# Cosigned checkpoint example from C2SP tlog-cosignature (keys not published).
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URY"
    "N7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZC"
    "B9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def test_spec_example_cosigned_checkpoint_parses() -> None:
    parsed = note.parse_note(SPEC_COSIGNED)
    body = checkpoint.Checkpoint.parse(parsed.text)
    assert (body.origin, body.size) == ("example.com/behind-the-sofa", 20852163)
    witness = parsed.signatures[1]
    # The example message in tlog-cosignature.md is timestamped 1679315147.
    assert checkpoint.cosignature_timestamp(witness) == 1679315147
    # Without the keys, nothing verifies: the note must be rejected.
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(SPEC_COSIGNED, [])

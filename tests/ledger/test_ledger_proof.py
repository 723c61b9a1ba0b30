"""C2SP tlog-proof: build, parse, verify, and reject tampering."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nagara.ledger import checkpoint, merkle, note, proof
from nagara.ledger.checkpoint import Checkpoint, CosignatureSigner
from nagara.ledger.proof import TlogProof, TlogProofError

ORIGIN = "example.com/fancylog"
ENTRIES = [f"record {i}".encode() for i in range(1000)]
INDEX = 737


def _log() -> note.Ed25519Signer:
    return note.Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x11" * 32))


def _witness(i: int) -> CosignatureSigner:
    key = Ed25519PrivateKey.from_private_bytes(bytes([0x20 + i]) * 32)
    return CosignatureSigner(f"witness{i}.example", key, clock=lambda: 1700000000)


def _setup(witnesses: int = 0, extra: bytes = b"") -> tuple[str, merkle.MemoryHashStore]:
    store = merkle.MemoryHashStore()
    store.append([merkle.leaf_hash(e) for e in ENTRIES])
    cp = Checkpoint(ORIGIN, store.size, store.root())
    signed = checkpoint.sign_checkpoint(cp, [_log()])
    for i in range(witnesses):
        signed += _witness(i).cosign(cp.format()).line() + "\n"
    text = proof.build_proof(
        INDEX,
        merkle.leaf_hash(ENTRIES[INDEX]),
        store.inclusion_proof(INDEX),
        signed,
        extra=extra,
    )
    return text, store


def test_build_format() -> None:
    text, store = _setup(extra=b"context")
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(b"context").decode()
    assert lines[2] == f"index {INDEX}"
    hashes = store.inclusion_proof(INDEX)
    assert lines[3 : 3 + len(hashes)] == [base64.b64encode(h).decode() for h in hashes]
    assert lines[3 + len(hashes)] == ""
    assert lines[4 + len(hashes)] == ORIGIN
    parsed = proof.parse_proof(text)
    assert parsed == TlogProof(INDEX, tuple(hashes), parsed.checkpoint, b"context")
    assert parsed.format() == text
    assert proof.parse_proof(text.encode()) == parsed
    assert "extra" not in _setup()[0]


def test_verify() -> None:
    text, _ = _setup(witnesses=3, extra=b"ctx")
    leaf = merkle.leaf_hash(ENTRIES[INDEX])
    log_vkey = _log().vkey
    witnesses = [_witness(i).vkey for i in range(4)]
    got = proof.verify_proof(text, leaf, [log_vkey], origin=ORIGIN, witness_keys=witnesses, min_witnesses=3)
    assert got.index == INDEX
    assert got.extra == b"ctx"
    assert got.checkpoint.size == len(ENTRIES)
    assert [s.name for s in got.log_signatures] == [ORIGIN]
    assert [s.name for s in got.witness_signatures] == [f"witness{i}.example" for i in range(3)]
    # Verifier objects work as well as vkey strings; unknown witnesses are ignored.
    proof.verify_proof(proof.parse_proof(text), leaf, [_log().verifier()])
    with pytest.raises(TlogProofError, match="3 valid witness cosignatures, 4 required"):
        proof.verify_proof(text, leaf, [log_vkey], witness_keys=witnesses, min_witnesses=4)


def test_single_entry_log_has_empty_proof() -> None:
    leaf = merkle.leaf_hash(b"only")
    cp = Checkpoint(ORIGIN, 1, leaf)
    signed = checkpoint.sign_checkpoint(cp, [_log()])
    text = proof.build_proof(0, leaf, [], signed)
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 0\n\n")
    assert proof.verify_proof(text, leaf, [_log().vkey]).index == 0


def _replace_line(text: str, n: int, new: str) -> str:
    lines = text.split("\n")
    lines[n] = new
    return "\n".join(lines)


def _tampered() -> list[tuple[str, str, str]]:
    """(description, tampered proof text, expected error fragment)."""
    text, _ = _setup(witnesses=1)
    lines = text.split("\n")
    first_hash = 2
    flipped = base64.b64decode(lines[first_hash])
    flipped = base64.b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode()
    cp_start = lines.index("") + 1
    sig_line = lines.index("", cp_start) + 1
    sig = note.parse_signature_line(lines[sig_line])
    bad_sig = note.Signature(sig.name, sig.key_id, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    other_root = base64.b64encode(b"\x00" * 32).decode()
    return [
        ("index", _replace_line(text, 1, f"index {INDEX + 1}"), "inclusion proof"),
        ("proof node", _replace_line(text, first_hash, flipped), "inclusion proof"),
        ("dropped node", "\n".join(lines[:first_hash] + lines[first_hash + 1 :]), "inclusion proof"),
        ("extra node", "\n".join(lines[: first_hash + 1] + lines[first_hash:]), "inclusion proof"),
        ("root", _replace_line(text, cp_start + 2, other_root), "invalid signature"),
        ("size", _replace_line(text, cp_start + 1, "1001"), "invalid signature"),
        ("origin", _replace_line(text, cp_start, "example.com/other"), "invalid signature"),
        ("log signature", _replace_line(text, sig_line, bad_sig.line()), "invalid signature"),
        ("witness signature", _replace_line(text, sig_line + 1, lines[sig_line + 1][:-6] + "AAAA=="), "invalid signature"),
        ("log signature removed", "\n".join(lines[:sig_line] + lines[sig_line + 1 :]), "not signed by a trusted log key"),
    ]


@pytest.mark.parametrize(("what", "text", "error"), _tampered(), ids=[t[0] for t in _tampered()])
def test_tampering_rejected(what: str, text: str, error: str) -> None:
    leaf = merkle.leaf_hash(ENTRIES[INDEX])
    with pytest.raises(TlogProofError, match=error):
        proof.verify_proof(text, leaf, [_log().vkey], witness_keys=[_witness(0).vkey])


def test_wrong_leaf_and_origin_rejected() -> None:
    text, _ = _setup()
    with pytest.raises(TlogProofError, match="inclusion proof"):
        proof.verify_proof(text, merkle.leaf_hash(ENTRIES[INDEX + 1]), [_log().vkey])
    with pytest.raises(TlogProofError, match="origin"):
        proof.verify_proof(text, merkle.leaf_hash(ENTRIES[INDEX]), [_log().vkey], origin="example.com/x")
    other = note.Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x12" * 32))
    with pytest.raises(TlogProofError, match="no signature from a known key"):
        proof.verify_proof(text, merkle.leaf_hash(ENTRIES[INDEX]), [other.vkey])
    with pytest.raises(ValueError):
        proof.verify_proof(text, merkle.leaf_hash(ENTRIES[INDEX]), [])


def test_build_refuses_mismatched_proof() -> None:
    text, store = _setup()
    signed = proof.parse_proof(text).checkpoint
    with pytest.raises(TlogProofError, match="does not match"):
        proof.build_proof(INDEX, merkle.leaf_hash(b"other"), store.inclusion_proof(INDEX), signed)
    with pytest.raises(TlogProofError, match="malformed checkpoint"):
        proof.build_proof(0, merkle.leaf_hash(b"x"), [], "not a note\n")


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "does not start"),
        (lambda t: t.replace(f"index {INDEX}", f"index 0{INDEX}"), "index"),
        (lambda t: t.replace(f"index {INDEX}", f"index  {INDEX}"), "index"),
        (lambda t: t.replace(f"index {INDEX}", f"index {INDEX}\n"), "malformed checkpoint"),
        (lambda t: t.replace(f"index {INDEX}\n", ""), "index"),
        (lambda t: t.replace(f"index {INDEX}", "extra \nindex 1"), "extra"),
        (lambda t: t.replace(f"index {INDEX}", "extra !!\nindex 1"), "extra"),
        (lambda t: t.replace(f"index {INDEX}", f"index {INDEX}\nAAAA"), "not 32"),
        (lambda t: t.replace(f"index {INDEX}", f"index {INDEX}\nnot base64"), "base64"),
        (lambda t: t.replace("\n\n", "\n"), "blank line"),
        (lambda t: t.replace(f"\n\n{ORIGIN}", f"\n\n{ORIGIN}\n01"), "malformed checkpoint"),
        (lambda t: t.rsplit("\u2014", 1)[0], "malformed checkpoint"),
        (lambda t: t.replace(f"index {INDEX}", f"index {1 << 64}"), "out of range"),
    ],
)
def test_malformed_rejected(mutate: Callable[[str], str], error: str) -> None:
    text, _ = _setup()
    bad = mutate(text)
    with pytest.raises(TlogProofError, match=error):
        proof.parse_proof(bad)
    with pytest.raises(TlogProofError):
        proof.verify_proof(bad, merkle.leaf_hash(ENTRIES[INDEX]), [_log().vkey])


def test_too_many_hashes_rejected() -> None:
    text, _ = _setup()
    h = base64.b64encode(b"\x00" * 32).decode()
    bad = text.replace(f"index {INDEX}\n", f"index {INDEX}\n" + (h + "\n") * 65, 1)
    with pytest.raises(TlogProofError, match="too many"):
        proof.parse_proof(bad)

"""Checkpoint bodies and Ed25519 cosignature/v1."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from nagara.ledger import checkpoint, note
from nagara.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    CosignatureSigner,
    CosignatureVerifier,
)

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
ORIGIN = "example.com/log"


def _log() -> note.Ed25519Signer:
    return note.Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))


def _witness(name: str = "witness.example/w1", seed: bytes = b"\x09" * 32) -> CosignatureSigner:
    return CosignatureSigner(name, Ed25519PrivateKey.from_private_bytes(seed), clock=lambda: 1700000000.5)


def test_format_and_parse() -> None:
    cp = Checkpoint(ORIGIN, 20852163, ROOT)
    text = cp.format()
    assert text == f"{ORIGIN}\n20852163\n{ROOT_B64}\n"
    assert Checkpoint.parse(text) == cp
    ext = Checkpoint(ORIGIN, 0, ROOT, ("ext one", "two"))
    assert ext.format().endswith("ext one\ntwo\n")
    assert Checkpoint.parse(ext.format()) == ext


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"{ORIGIN}\n1\n{ROOT_B64}",
        f"{ORIGIN}\n1\n",
        f"\n1\n{ROOT_B64}\n",
        f"{ORIGIN}\n01\n{ROOT_B64}\n",
        f"{ORIGIN}\n+1\n{ROOT_B64}\n",
        f"{ORIGIN}\n-1\n{ROOT_B64}\n",
        f"{ORIGIN}\n 1\n{ROOT_B64}\n",
        f"{ORIGIN}\n1_0\n{ROOT_B64}\n",
        f"{ORIGIN}\n\u0661\n{ROOT_B64}\n",
        f"{ORIGIN}\n{1 << 64}\n{ROOT_B64}\n",
        f"{ORIGIN}\n\n{ROOT_B64}\n",
        f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n1\n{ROOT_B64}\n\n",
        f"{ORIGIN}\n1\n{ROOT_B64}\next\n\n",
        f"{ORIGIN}\n1\n{ROOT_B64}\r\n",
        f"{ORIGIN}\x00\n1\n{ROOT_B64}\n",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(text)


def test_constructor_validates() -> None:
    with pytest.raises(CheckpointError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, ROOT, ("",))
    with pytest.raises(CheckpointError):
        Checkpoint("a\nb", 1, ROOT)
    assert Checkpoint(ORIGIN, checkpoint.MAX_TREE_SIZE, ROOT).size == (1 << 64) - 1


@settings(database=None, deadline=None, max_examples=50)
@given(
    st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=0x20), min_size=1, max_size=30),
    st.integers(0, checkpoint.MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
)
def test_round_trip(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    assert Checkpoint.parse(cp.format()) == cp


def test_signed_checkpoint_open() -> None:
    log = _log()
    cp = Checkpoint(ORIGIN, 5, ROOT)
    signed = checkpoint.sign_checkpoint(cp, [log])
    got, opened = checkpoint.open_checkpoint(signed, [log.verifier()], origin=ORIGIN)
    assert got == cp
    assert opened.verified[0].name == ORIGIN
    with pytest.raises(CheckpointError, match="origin"):
        checkpoint.open_checkpoint(signed, [log.verifier()], origin="example.com/other")
    not_a_checkpoint = note.sign_note("just text\n", [log])
    with pytest.raises(CheckpointError):
        checkpoint.open_checkpoint(not_a_checkpoint, [log.verifier()])


def test_cosignature_message_format() -> None:
    cp = Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert checkpoint.cosignature_message(cp.format(), 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n" + ROOT_B64.encode() + b"\n"
    )


def test_cosign_and_verify() -> None:
    log, witness = _log(), _witness()
    cp = Checkpoint(ORIGIN, 5, ROOT, ("extension",))
    signed = checkpoint.sign_checkpoint(cp, [log])
    cosig = witness.cosign(cp.format())
    assert checkpoint.cosignature_timestamp(cosig) == 1700000000
    assert cosig.key_id == note.compute_key_id(witness.name, 0x04, witness.verifier().public_key.public_bytes_raw())
    cosigned = signed + cosig.line() + "\n"
    witness_v = CosignatureVerifier.from_vkey(witness.vkey)
    opened = note.open_note(cosigned, [log.verifier(), witness_v])
    assert [s.name for s in opened.verified] == [ORIGIN, witness.name]
    # The log key alone ignores the cosignature; the witness key alone suffices too.
    assert note.open_note(cosigned, [log.verifier()]).unverified == (cosig,)
    assert note.open_note(cosigned, [witness_v]).verified == (cosig,)
    # sign_checkpoint with an existing signature list gives the same note.
    assert checkpoint.sign_checkpoint(cp, [], existing=note.parse_note(cosigned).signatures) == cosigned


def test_cosignature_tampering_rejected() -> None:
    witness = _witness()
    text = Checkpoint(ORIGIN, 5, ROOT).format()
    raw = witness.sign(text.encode(), timestamp=1234)
    verifier = witness.verifier()
    assert verifier.verify(text.encode(), raw)
    later = (1235).to_bytes(8, "big") + raw[8:]
    assert not verifier.verify(text.encode(), later)
    assert not verifier.verify(text.replace("\n5\n", "\n6\n").encode(), raw)
    assert not verifier.verify(text.encode(), raw[:-1])
    assert not verifier.verify(b"not a checkpoint\n", raw)
    huge = (1 << 63).to_bytes(8, "big") + raw[8:]
    assert not verifier.verify(text.encode(), huge)
    # A plain Ed25519 signature from the same key is not a cosignature.
    key = Ed25519PrivateKey.from_private_bytes(b"\x09" * 32)
    plain = note.Ed25519Signer(witness.name, key).sign(text.encode())
    assert not verifier.verify(text.encode(), raw[:8] + plain)


def test_cosigner_refuses_non_checkpoints_and_bad_timestamps() -> None:
    witness = _witness()
    with pytest.raises(CheckpointError):
        witness.sign(b"hello\n")
    with pytest.raises(ValueError):
        witness.sign(Checkpoint(ORIGIN, 1, ROOT).format().encode(), timestamp=1 << 63)


def test_same_key_different_types_have_different_ids() -> None:
    key = Ed25519PrivateKey.from_private_bytes(b"\x05" * 32)
    plain = note.Ed25519Signer("example.com/k", key)
    cosigner = CosignatureSigner("example.com/k", key)
    assert plain.key_id != cosigner.key_id
    cp = Checkpoint(ORIGIN, 1, ROOT)
    signed = checkpoint.sign_checkpoint(cp, [plain])
    # A type 0x01 signature is ignored by a type 0x04 verifier (different key ID).
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(signed, [cosigner.verifier()])


def test_load_verifier() -> None:
    log, witness = _log(), _witness()
    assert isinstance(checkpoint.load_verifier(log.vkey), note.Ed25519Verifier)
    assert isinstance(checkpoint.load_verifier(witness.vkey), CosignatureVerifier)
    with pytest.raises(note.InvalidKeyError, match="0x02"):
        checkpoint.load_verifier(note.VerifierKey("a", 1, 2, b"\x01" * 32).format())
    with pytest.raises(note.InvalidKeyError):
        CosignatureVerifier.from_vkey(log.vkey)
    bad_id = witness.vkey.replace(f"+{witness.key_id:08x}+", f"+{witness.key_id ^ 1:08x}+")
    with pytest.raises(note.InvalidKeyError, match="key ID"):
        CosignatureVerifier.from_vkey(bad_id)

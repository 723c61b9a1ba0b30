"""Signed notes: format, keys, signing, and verification edge cases."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from nagara.ledger import note
from nagara.ledger.note import (
    Ed25519Signer,
    Ed25519Verifier,
    InvalidSignatureError,
    NoteError,
    UnverifiedNoteError,
)

TEXT = "hello\nworld\n"
SEED = bytes(range(32))


def _signer(name: str = "example.com/log", seed: bytes = SEED) -> Ed25519Signer:
    return Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(seed))


def test_generate_key_round_trip() -> None:
    skey, vkey = note.generate_key("example.com/new")
    signer = Ed25519Signer.from_private_key_string(skey)
    assert signer.vkey == vkey
    assert skey.startswith("PRIVATE+KEY+example.com/new+")
    verifier = Ed25519Verifier.from_vkey(vkey)
    opened = note.open_note(note.sign_note(TEXT, [signer]), [verifier])
    assert opened.text == TEXT


def test_key_id_definition() -> None:
    signer = _signer()
    pub = signer.verifier().public_key.public_bytes_raw()
    assert signer.key_id == note.compute_key_id("example.com/log", 0x01, pub)
    key = note.parse_vkey(signer.vkey)
    assert (key.name, key.key_id, key.sig_type, key.public_key) == (
        "example.com/log",
        signer.key_id,
        1,
        pub,
    )
    assert key.format() == signer.vkey


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name",
        "name+0011aabb",
        "+0011aabb+AQ==",
        "na me+0011aabb+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+BOkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AQ==",
    ],
)
def test_bad_vkeys(vkey: str) -> None:
    with pytest.raises(note.InvalidKeyError):
        Ed25519Verifier.from_vkey(vkey)


def test_bad_private_keys() -> None:
    good = _signer().private_key_string()
    prefix, material = good.rsplit("+", 1)
    raw = base64.b64decode(material)
    bad = [
        good.replace("PRIVATE+KEY", "PRIVATE+KEYS"),
        good.replace("example.com/log", "example.com/other"),
        prefix + "+" + base64.b64encode(b"\x02" + raw[1:]).decode(),
        prefix + "+" + base64.b64encode(raw[:-1]).decode(),
        prefix + "+" + material + "=",
        prefix + "+" + material[:-1] + "!",
        "PRIVATE+KEY+example.com/log+zzzzzzzz+" + material,
    ]
    for skey in bad:
        with pytest.raises(note.InvalidKeyError):
            Ed25519Signer.from_private_key_string(skey)


def test_open_ignores_unknown_keys_and_reports_them() -> None:
    log, other = _signer(), _signer("example.com/other", b"\x01" * 32)
    # Same name as the log key but another key ID, and same key ID, other name.
    same_name = note.Signature(log.name, log.key_id ^ 1, b"\x00" * 64)
    same_id = note.Signature("example.com/impostor", log.key_id, b"\x00" * 64)
    msg = note.sign_note(TEXT, [log, other], existing=[same_name, same_id])
    opened = note.open_note(msg, [log.verifier()])
    assert [s.name for s in opened.verified] == [log.name]
    assert set(opened.unverified) == {
        same_name,
        same_id,
        note.parse_note(msg).signatures[-1],
    }
    both = note.open_note(msg, [log.verifier(), other.verifier()])
    assert {s.name for s in both.verified} == {log.name, other.name}


def test_open_rejects_bad_known_signature_even_if_another_verifies() -> None:
    log, other = _signer(), _signer("example.com/other", b"\x01" * 32)
    msg = note.sign_note(TEXT, [log])
    forged = note.Signature(other.name, other.key_id, b"\x00" * 64)
    msg = note.sign_note(TEXT, [], existing=[*note.parse_note(msg).signatures, forged])
    note.open_note(msg, [log.verifier()])
    with pytest.raises(InvalidSignatureError, match=r"example\.com/other"):
        note.open_note(msg, [log.verifier(), other.verifier()])


def test_open_requires_a_known_signature() -> None:
    msg = note.sign_note(TEXT, [_signer()])
    with pytest.raises(UnverifiedNoteError) as info:
        note.open_note(msg, [_signer("example.com/other").verifier()])
    assert info.value.note.text == TEXT


def test_open_rejects_text_and_signature_tampering() -> None:
    signer = _signer()
    msg = note.sign_note(TEXT, [signer])
    with pytest.raises(InvalidSignatureError):
        note.open_note(msg.replace("world", "World"), [signer.verifier()])
    sig = note.parse_note(msg).signatures[0]
    truncated = note.Signature(sig.name, sig.key_id, sig.signature[:-1])
    with pytest.raises(InvalidSignatureError):
        note.open_note(TEXT + "\n" + truncated.line() + "\n", [signer.verifier()])


def test_duplicate_signatures_reported_once() -> None:
    signer = _signer()
    sig = note.parse_note(note.sign_note(TEXT, [signer])).signatures[0]
    msg = TEXT + "\n" + (sig.line() + "\n") * 3
    assert note.open_note(msg, [signer.verifier()]).verified == (sig,)


def test_sign_note_replaces_own_signature() -> None:
    a, b = _signer(), _signer("example.com/b", b"\x02" * 32)
    first = note.parse_note(note.sign_note(TEXT, [a, b]))
    again = note.parse_note(note.sign_note(TEXT, [a], existing=first.signatures))
    assert [s.name for s in again.signatures] == [b.name, a.name]


class _Colliding:
    """A different key that happens to share a name and key ID with a real one."""

    def __init__(self, name: str, key_id: int) -> None:
        self.name, self.key_id = name, key_id

    def verify(self, msg: bytes, signature: bytes) -> bool:
        return False


def test_duplicate_and_colliding_verifiers() -> None:
    signer = _signer()
    msg = note.sign_note(TEXT, [signer])
    same = [signer.verifier(), Ed25519Verifier.from_vkey(signer.vkey)]
    assert len(note.open_note(msg, same).verified) == 1
    colliding = _Colliding(signer.name, signer.key_id)
    assert len(note.open_note(msg, [colliding, signer.verifier()]).verified) == 1
    with pytest.raises(InvalidSignatureError):
        note.open_note(msg, [colliding])


SIG = "\u2014 example.com/log " + base64.b64encode(b"\x00" * 68).decode()


@pytest.mark.parametrize(
    ("msg", "why"),
    [
        ("hello\n", "blank line"),
        ("hello\n\n", "no signatures"),
        ("hello\n\n" + SIG, "end with a newline"),
        ("hel\tlo\n\n" + SIG + "\n", "control character"),
        ("hello\r\n\n" + SIG + "\n", "control character"),
        ("hello\n\n- example.com/log AAAA\n", "em dash"),
        ("hello\n\n" + SIG.replace("\u2014 ", "\u2014") + "\n", "em dash"),
        ("hello\n\n" + SIG.replace(" ", "  ", 1) + "\n", "malformed"),
        ("hello\n\n" + SIG.replace("example.com/log", "a+b") + "\n", "malformed"),
        ("hello\n\n" + SIG.replace("example.com/log", "a\u00a0b") + "\n", "malformed"),
        ("hello\n\n\u2014 example.com/log\n", "malformed"),
        ("hello\n\n\u2014 example.com/log AAAAAA==\n", "too short"),
        ("hello\n\n" + SIG[:-2] + "\n", "base64"),
        ("hello\n\n" + SIG + "\n\n", "no signatures"),
        ("hello\n\n" + SIG + " \n", "base64"),
        ("hello\n\n" + (SIG + "\n") * (note.MAX_SIGNATURES + 1), "more than"),
    ],
)
def test_malformed_notes(msg: str, why: str) -> None:
    with pytest.raises(NoteError, match=why):
        note.parse_note(msg)
    with pytest.raises(NoteError, match=why):
        note.open_note(msg, [_signer().verifier()])


def test_invalid_utf8_rejected() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        note.parse_note(b"hi\xff\n\n" + SIG.encode() + b"\n")
    with pytest.raises(NoteError, match="UTF-8"):
        note.parse_note("hi\udc80\n\n" + SIG + "\n")


def test_non_canonical_base64_rejected() -> None:
    assert note.b64decode("AQ==") == b"\x01"
    for bad in ("AR==", "AQ", "AQ=", "A Q==", "AQ==\n", "-_8=", "AQ==AQ=="):
        with pytest.raises(ValueError):
            note.b64decode(bad)


def test_sixteen_signatures_accepted() -> None:
    signers = [_signer(f"example.com/w{i}", bytes([i]) * 32) for i in range(16)]
    msg = note.sign_note(TEXT, signers)
    opened = note.open_note(msg, [s.verifier() for s in signers])
    assert len(opened.verified) == 16


def test_sign_note_validates_text() -> None:
    with pytest.raises(NoteError):
        note.sign_note("no newline", [_signer()])
    with pytest.raises(NoteError):
        note.sign_note("bell\a\n", [_signer()])


@settings(database=None, deadline=None, max_examples=60)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x20) | st.just("\n"),
        max_size=60,
    )
)
def test_round_trip_any_text(body: str) -> None:
    text = body + "\n"
    signer = _signer()
    msg = note.sign_note(text, [signer])
    assert note.parse_note(msg).format() == msg
    assert note.open_note(msg, [signer.verifier()]).text == text

"""C2SP signed-note: parsing, formatting, Ed25519 keys, signing and verification.

Key strings follow golang.org/x/mod/sumdb/note: verifier keys are
``name+hex(keyid)+base64(type || public key)`` and Ed25519 private keys are
``PRIVATE+KEY+name+hex(keyid)+base64(0x01 || seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "MAX_SIGNATURES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "Ed25519Signer",
    "Ed25519Verifier",
    "InvalidKeyError",
    "InvalidSignatureError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "VerifiedNote",
    "Verifier",
    "VerifierKey",
    "b64decode",
    "b64encode",
    "check_text",
    "compute_key_id",
    "ed25519_public_key",
    "generate_key",
    "is_valid_key_name",
    "open_note",
    "parse_note",
    "parse_signature_line",
    "parse_vkey",
    "sign_note",
]

SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
"""Signature lines accepted per note (the spec requires at least 16)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, signature line or key string is malformed."""


class InvalidKeyError(NoteError):
    """A verifier or signer key string is malformed or inconsistent."""


class InvalidSignatureError(NoteError):
    """A signature from a known key failed to verify, so the note is rejected."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature by known key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class UnverifiedNoteError(NoteError):
    """No signature from a known key is present on the note."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no signature from a known key")
        self.note = note


def b64encode(data: bytes) -> str:
    """Standard (RFC 4648 section 4) base64 with padding."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64: padding required, no stray characters, canonical trailing bits."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"invalid base64: {text!r}") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError(f"non-canonical base64: {text!r}")
    return data


def _is_space(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Zs", "Zl", "Zp")


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty, with no Unicode spaces, plus signs or control characters."""
    return bool(name) and "+" not in name and not any(_is_space(c) or ord(c) < 0x20 for c in name) and _is_utf8(name)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def check_text(text: str) -> None:
    """Raise NoteError unless ``text`` is valid note text: UTF-8, newline-terminated, no controls."""
    if not text.endswith("\n"):
        raise NoteError("note must end with a newline")
    if not _is_utf8(text):
        raise NoteError("note is not valid UTF-8")
    for c in text:
        if ord(c) < 0x20 and c != "\n":
            raise NoteError(f"note contains control character U+{ord(c):04X}")


def compute_key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || type || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key ID, and the signature bytes after the key ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, without its trailing newline."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_SIG_PREFIX}{self.name} {b64encode(blob)}"


@dataclass(frozen=True)
class Note:
    """A parsed but unverified note."""

    text: str
    signatures: tuple[Signature, ...]

    def format(self) -> str:
        return self.text + "\n" + "".join(s.line() + "\n" for s in self.signatures)


@dataclass(frozen=True)
class VerifiedNote:
    """Result of open_note: the text, which signatures verified, and which were unknown."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


class Signer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, msg: bytes) -> bytes:
        """Signature bytes (without the key ID) over the note text."""
        ...


class Verifier(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, msg: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the key ID) is valid over the note text."""
        ...


@dataclass(frozen=True)
class VerifierKey:
    """A decoded vkey string; ``public_key`` excludes the type byte."""

    name: str
    key_id: int
    sig_type: int
    public_key: bytes

    def format(self) -> str:
        material = b64encode(bytes([self.sig_type]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{material}"


def parse_vkey(vkey: str) -> VerifierKey:
    """Decode ``name+hex(keyid)+base64(type || key)`` (key type not interpreted)."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise InvalidKeyError("verifier key must have the form name+keyid+key")
    name, key_id_hex, material_b64 = parts
    if not is_valid_key_name(name):
        raise InvalidKeyError(f"invalid key name in verifier key: {name!r}")
    if not _HEX_KEY_ID.fullmatch(key_id_hex):
        raise InvalidKeyError("verifier key ID must be 8 lowercase hex digits")
    try:
        material = b64decode(material_b64)
    except ValueError:
        raise InvalidKeyError("verifier key material is not valid base64") from None
    if len(material) < 2:
        raise InvalidKeyError("verifier key material is too short")
    return VerifierKey(name, int(key_id_hex, 16), material[0], material[1:])


def ed25519_public_key(data: bytes) -> Ed25519PublicKey:
    """Load a raw 32-byte Ed25519 public key, raising InvalidKeyError if it is unusable."""
    if len(data) != 32:
        raise InvalidKeyError(f"Ed25519 public key must be 32 bytes, got {len(data)}")
    try:
        return Ed25519PublicKey.from_public_bytes(data)
    except ValueError as exc:
        raise InvalidKeyError(f"invalid Ed25519 public key: {exc}") from None


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes_raw()


class Ed25519Verifier:
    """Verifies signature type 0x01: plain Ed25519 over the note text."""

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        if not is_valid_key_name(name):
            raise InvalidKeyError(f"invalid key name: {name!r}")
        if isinstance(public_key, bytes):
            public_key = ed25519_public_key(public_key)
        self._name = name
        self._public_key = public_key
        self._key_id = compute_key_id(name, SIG_TYPE_ED25519, _raw_public(public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        key = parse_vkey(vkey)
        if key.sig_type != SIG_TYPE_ED25519:
            raise InvalidKeyError(f"verifier key has type 0x{key.sig_type:02x}, not Ed25519 (0x01)")
        verifier = cls(key.name, key.public_key)
        if verifier.key_id != key.key_id:
            raise InvalidKeyError("verifier key ID does not match the name and public key")
        return verifier

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    @property
    def vkey(self) -> str:
        raw = _raw_public(self._public_key)
        return VerifierKey(self._name, self._key_id, SIG_TYPE_ED25519, raw).format()

    def verify(self, msg: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._public_key.verify(signature, msg)
        except InvalidSignature:
            return False
        return True


class Ed25519Signer:
    """Signs notes with signature type 0x01."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise InvalidKeyError(f"invalid key name: {name!r}")
        self._name = name
        self._private_key = private_key
        self._verifier = Ed25519Verifier(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key_string(cls, skey: str) -> Ed25519Signer:
        """Load ``PRIVATE+KEY+name+hex(keyid)+base64(0x01 || seed)``."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise InvalidKeyError("private key must have the form PRIVATE+KEY+name+keyid+key")
        _, _, name, key_id_hex, material_b64 = parts
        if not is_valid_key_name(name):
            raise InvalidKeyError(f"invalid key name in private key: {name!r}")
        if not _HEX_KEY_ID.fullmatch(key_id_hex):
            raise InvalidKeyError("private key ID must be 8 lowercase hex digits")
        try:
            material = b64decode(material_b64)
        except ValueError:
            raise InvalidKeyError("private key material is not valid base64") from None
        if not material or material[0] != SIG_TYPE_ED25519:
            raise InvalidKeyError("private key is not an Ed25519 (0x01) key")
        if len(material) != 33:
            raise InvalidKeyError("Ed25519 private key seed must be 32 bytes")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
        if signer.key_id != int(key_id_hex, 16):
            raise InvalidKeyError("private key ID does not match the name and key")
        return signer

    def private_key_string(self) -> str:
        seed = self._private_key.private_bytes_raw()
        material = b64encode(bytes([SIG_TYPE_ED25519]) + seed)
        return f"PRIVATE+KEY+{self._name}+{self.key_id:08x}+{material}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def vkey(self) -> str:
        return self._verifier.vkey

    def verifier(self) -> Ed25519Verifier:
        return self._verifier

    def sign(self, msg: bytes) -> bytes:
        return self._private_key.sign(msg)


def generate_key(name: str) -> tuple[str, str]:
    """New Ed25519 key pair as ``(private key string, vkey string)``."""
    signer = Ed25519Signer.generate(name)
    return signer.private_key_string(), signer.vkey


def parse_signature_line(line: str) -> Signature:
    """Parse ``— name base64(keyid || sig)`` (no trailing newline)."""
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"signature line does not start with an em dash and a space: {line!r}")
    name, sep, blob_b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not is_valid_key_name(name):
        raise NoteError(f"malformed signature line: {line!r}")
    try:
        blob = b64decode(blob_b64)
    except ValueError:
        raise NoteError(f"signature is not valid base64: {line!r}") from None
    if len(blob) < 5:
        raise NoteError(f"signature is too short: {line!r}")
    return Signature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def parse_note(msg: str | bytes) -> Note:
    """Split a signed note into text and signature lines, without verifying anything."""
    if isinstance(msg, bytes):
        try:
            msg = msg.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    check_text(msg)
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block:
        raise NoteError("note has no signatures")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(parse_signature_line(line) for line in lines))


def sign_note(text: str, signers: Sequence[Signer], existing: Sequence[Signature] = ()) -> str:
    """Format a note over ``text`` with the ``existing`` signatures plus one per signer.

    Existing signatures by the same name and key ID as a signer are replaced.
    """
    check_text(text)
    fresh: list[Signature] = []
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise NoteError(f"invalid signer name: {signer.name!r}")
        if not 0 <= signer.key_id < 1 << 32:
            raise NoteError(f"signer key ID out of range: {signer.key_id}")
        fresh.append(Signature(signer.name, signer.key_id, signer.sign(text.encode("utf-8"))))
    replaced = {(s.name, s.key_id) for s in fresh}
    kept = [s for s in existing if (s.name, s.key_id) not in replaced]
    return Note(text, tuple(kept + fresh)).format()


def open_note(msg: str | bytes, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Parse and verify a note against known verifiers.

    Signatures whose (name, key ID) matches no verifier are ignored and
    reported as unverified. A failing signature from a known key rejects the
    whole note (InvalidSignatureError); so does the absence of any verified
    signature (UnverifiedNoteError). Repeated signatures by one key are
    reported once. If several verifiers share a name and key ID (a duplicate
    or a collision), a signature verifies if any of them accepts it.
    """
    note = parse_note(msg)
    known: dict[tuple[str, int], list[Verifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    text = note.text.encode("utf-8")
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[Signature, None] = {}
    for sig in note.signatures:
        key = (sig.name, sig.key_id)
        candidates = known.get(key)
        if candidates is None:
            unverified[sig] = None
            continue
        if not any(v.verify(text, sig.signature) for v in candidates):
            raise InvalidSignatureError(sig.name, sig.key_id)
        verified.setdefault(key, sig)
    if not verified:
        raise UnverifiedNoteError(note)
    return VerifiedNote(note.text, tuple(verified.values()), tuple(unverified))

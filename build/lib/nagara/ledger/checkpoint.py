"""C2SP tlog-checkpoint bodies and tlog-cosignature (Ed25519 ``cosignature/v1``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from nagara.ledger import note
from nagara.ledger.merkle import HASH_SIZE

__all__ = [
    "MAX_TIMESTAMP",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosignature_message",
    "cosignature_timestamp",
    "load_verifier",
    "open_checkpoint",
    "sign_checkpoint",
]

MAX_TREE_SIZE = (1 << 64) - 1
MAX_TIMESTAMP = (1 << 63) - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A checkpoint body is malformed or fails a checkpoint-level check."""


def _check_line(what: str, line: str) -> None:
    if not line:
        raise CheckpointError(f"checkpoint {what} must not be empty")
    for c in line:
        if ord(c) < 0x20:
            raise CheckpointError(f"checkpoint {what} contains control character U+{ord(c):04X}")


@dataclass(frozen=True)
class Checkpoint:
    """The note text of a checkpoint: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size out of range: {self.size}")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        for ext in self.extensions:
            _check_line("extension line", ext)

    def format(self) -> str:
        """The note text, ending in a newline."""
        lines = [self.origin, str(self.size), note.b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Strictly parse a checkpoint note text (not a signed note)."""
        try:
            note.check_text(text)
        except note.NoteError as exc:
            raise CheckpointError(f"invalid checkpoint text: {exc}") from None
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint needs an origin, a tree size and a root hash line")
        origin, size_line, root_line, *extensions = lines
        _check_line("origin", origin)
        if not _DECIMAL.fullmatch(size_line):
            raise CheckpointError(f"checkpoint tree size is not a canonical decimal: {size_line!r}")
        try:
            root = note.b64decode(root_line)
        except ValueError:
            raise CheckpointError(f"checkpoint root hash is not valid base64: {root_line!r}") from None
        return cls(origin, int(size_line), root, tuple(extensions))


def sign_checkpoint(
    checkpoint: Checkpoint,
    signers: Sequence[note.Signer],
    existing: Sequence[note.Signature] = (),
) -> str:
    """Signed note for a checkpoint."""
    return note.sign_note(checkpoint.format(), signers, existing)


def open_checkpoint(
    msg: str | bytes,
    verifiers: Iterable[note.Verifier],
    origin: str | None = None,
) -> tuple[Checkpoint, note.VerifiedNote]:
    """Verify a signed checkpoint (see note.open_note) and parse its body.

    If ``origin`` is given the checkpoint must carry exactly that origin.
    """
    opened = note.open_note(msg, verifiers)
    checkpoint = Checkpoint.parse(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return checkpoint, opened


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The message an Ed25519 cosignature/v1 signs."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosignature_timestamp(signature: note.Signature | bytes) -> int:
    """POSIX timestamp of a cosignature/v1 signature (the first 8 bytes after the key ID)."""
    raw = signature.signature if isinstance(signature, note.Signature) else signature
    if len(raw) != 72:
        raise ValueError(f"cosignature/v1 signature must be 72 bytes, got {len(raw)}")
    return int.from_bytes(raw[:8], "big")


class CosignatureVerifier:
    """Verifies signature type 0x04 (timestamped Ed25519 checkpoint cosignatures)."""

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        if not note.is_valid_key_name(name):
            raise note.InvalidKeyError(f"invalid key name: {name!r}")
        if isinstance(public_key, bytes):
            public_key = note.ed25519_public_key(public_key)
        self._name = name
        self._public_key = public_key
        raw = public_key.public_bytes_raw()
        self._key_id = note.compute_key_id(name, note.SIG_TYPE_COSIGNATURE_V1, raw)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        key = note.parse_vkey(vkey)
        if key.sig_type != note.SIG_TYPE_COSIGNATURE_V1:
            raise note.InvalidKeyError(f"verifier key has type 0x{key.sig_type:02x}, not cosignature/v1 (0x04)")
        verifier = cls(key.name, key.public_key)
        if verifier.key_id != key.key_id:
            raise note.InvalidKeyError("verifier key ID does not match the name and public key")
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
        raw = self._public_key.public_bytes_raw()
        return note.VerifierKey(self._name, self._key_id, note.SIG_TYPE_COSIGNATURE_V1, raw).format()

    def verify(self, msg: bytes, signature: bytes) -> bool:
        """Check a timestamped signature; the note text must be a valid checkpoint."""
        if len(signature) != 72:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            text = msg.decode("utf-8")
            Checkpoint.parse(text)
        except (UnicodeDecodeError, CheckpointError):
            return False
        try:
            self._public_key.verify(signature[8:], cosignature_message(text, timestamp))
        except InvalidSignature:
            return False
        return True


class CosignatureSigner:
    """Produces cosignature/v1 signatures; ``clock`` supplies the POSIX time."""

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._verifier = CosignatureVerifier(name, private_key.public_key())
        self._private_key = private_key
        self._clock = clock

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def vkey(self) -> str:
        return self._verifier.vkey

    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def sign(self, msg: bytes, timestamp: int | None = None) -> bytes:
        """``timestamp (u64 BE) || Ed25519 signature`` over a checkpoint note text."""
        if timestamp is None:
            timestamp = int(self._clock())
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp out of range: {timestamp}")
        try:
            text = msg.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("cosigned text is not valid UTF-8") from None
        Checkpoint.parse(text)
        signed = self._private_key.sign(cosignature_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + signed

    def cosign(self, checkpoint_text: str, timestamp: int | None = None) -> note.Signature:
        """Cosignature over a checkpoint note text, as a signature line object."""
        raw = self.sign(checkpoint_text.encode("utf-8"), timestamp)
        return note.Signature(self.name, self.key_id, raw)


def load_verifier(vkey: str) -> note.Verifier:
    """Verifier for an Ed25519 (0x01) or cosignature/v1 (0x04) vkey string."""
    sig_type = note.parse_vkey(vkey).sig_type
    if sig_type == note.SIG_TYPE_ED25519:
        return note.Ed25519Verifier.from_vkey(vkey)
    if sig_type == note.SIG_TYPE_COSIGNATURE_V1:
        return CosignatureVerifier.from_vkey(vkey)
    raise note.InvalidKeyError(f"unsupported verifier key type 0x{sig_type:02x}")

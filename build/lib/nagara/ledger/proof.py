"""C2SP tlog-proof: offline-verifiable inclusion proofs (``c2sp.org/tlog-proof@v1``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nagara.ledger import note
from nagara.ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    load_verifier,
)
from nagara.ledger.merkle import HASH_SIZE, MerkleProofError, verify_inclusion

__all__ = [
    "HEADER",
    "TlogProof",
    "TlogProofError",
    "VerifiedProof",
    "build_proof",
    "parse_proof",
    "verify_proof",
]

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64
_INDEX = re.compile(r"index (0|[1-9][0-9]*)")


class TlogProofError(ValueError):
    """A tlog-proof is malformed or does not verify."""


@dataclass(frozen=True)
class TlogProof:
    """A parsed tlog-proof; ``checkpoint`` is the signed checkpoint note, verbatim.

    Empty ``extra`` means no extra line.
    """

    index: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes = b""

    def format(self) -> str:
        lines = [HEADER]
        if self.extra:
            lines.append(f"extra {note.b64encode(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(note.b64encode(h) for h in self.inclusion_proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint


def _checkpoint_body(signed_checkpoint: str) -> Checkpoint:
    try:
        return Checkpoint.parse(note.parse_note(signed_checkpoint).text)
    except (note.NoteError, CheckpointError) as exc:
        raise TlogProofError(f"malformed checkpoint: {exc}") from None


def parse_proof(text: str | bytes) -> TlogProof:
    """Parse a tlog-proof strictly (structure only; nothing is verified)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise TlogProofError("proof is not valid UTF-8") from None
    head, sep, signed_checkpoint = text.partition("\n\n")
    if not sep:
        raise TlogProofError("proof has no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise TlogProofError(f"proof does not start with {HEADER!r}")
    pos = 1
    extra = b""
    if pos < len(lines) and lines[pos].startswith("extra "):
        try:
            extra = note.b64decode(lines[pos][len("extra ") :])
        except ValueError:
            raise TlogProofError("extra data is not valid base64") from None
        if not extra:
            raise TlogProofError("extra line is present but empty")
        pos += 1
    match = _INDEX.fullmatch(lines[pos]) if pos < len(lines) else None
    if match is None:
        raise TlogProofError("expected an 'index N' line with a canonical decimal index")
    index = int(match.group(1))
    if index > MAX_TREE_SIZE:
        raise TlogProofError(f"index out of range: {index}")
    hashes: list[bytes] = []
    for line in lines[pos + 1 :]:
        try:
            h = note.b64decode(line)
        except ValueError:
            raise TlogProofError(f"inclusion proof line is not valid base64: {line!r}") from None
        if len(h) != HASH_SIZE:
            raise TlogProofError(f"inclusion proof hash is {len(h)} bytes, not {HASH_SIZE}")
        hashes.append(h)
    if len(hashes) > MAX_PROOF_HASHES:
        raise TlogProofError("inclusion proof has too many hashes")
    _checkpoint_body(signed_checkpoint)
    return TlogProof(index, tuple(hashes), signed_checkpoint, extra)


def build_proof(
    index: int,
    leaf_hash: bytes,
    inclusion_proof: Sequence[bytes],
    signed_checkpoint: str,
    extra: bytes = b"",
) -> str:
    """Format a tlog-proof, first checking that the proof binds ``leaf_hash`` to the checkpoint root."""
    body = _checkpoint_body(signed_checkpoint)
    try:
        verify_inclusion(leaf_hash, index, body.size, inclusion_proof, body.root_hash)
    except MerkleProofError as exc:
        raise TlogProofError(f"inclusion proof does not match the checkpoint: {exc}") from None
    return TlogProof(index, tuple(inclusion_proof), signed_checkpoint, extra).format()


@dataclass(frozen=True)
class VerifiedProof:
    """A verified tlog-proof: the checkpoint and which log/witness signatures verified."""

    checkpoint: Checkpoint
    index: int
    extra: bytes
    log_signatures: tuple[note.Signature, ...]
    witness_signatures: tuple[note.Signature, ...]


def _verifiers(keys: Sequence[str | note.Verifier]) -> list[note.Verifier]:
    return [load_verifier(k) if isinstance(k, str) else k for k in keys]


def verify_proof(
    proof: str | bytes | TlogProof,
    leaf_hash: bytes,
    log_keys: Sequence[str | note.Verifier],
    *,
    origin: str | None = None,
    witness_keys: Sequence[str | note.Verifier] = (),
    min_witnesses: int = 0,
) -> VerifiedProof:
    """Verify a tlog-proof for ``leaf_hash`` (computing it is application-specific).

    The checkpoint must verify under at least one of ``log_keys`` (vkey strings
    or verifiers), carry ``origin`` if given, and have valid cosignatures from
    at least ``min_witnesses`` of ``witness_keys``; any failing signature from
    a known key rejects the proof. Raises TlogProofError on any failure.
    """
    parsed = proof if isinstance(proof, TlogProof) else parse_proof(proof)
    log_verifiers = _verifiers(log_keys)
    witness_verifiers = _verifiers(witness_keys)
    if not log_verifiers:
        raise ValueError("at least one log key is required")
    try:
        opened = note.open_note(parsed.checkpoint, [*log_verifiers, *witness_verifiers])
    except note.NoteError as exc:
        raise TlogProofError(f"checkpoint signature check failed: {exc}") from None
    log_ids = {(v.name, v.key_id) for v in log_verifiers}
    log_sigs = tuple(s for s in opened.verified if (s.name, s.key_id) in log_ids)
    witness_sigs = tuple(s for s in opened.verified if (s.name, s.key_id) not in log_ids)
    if not log_sigs:
        raise TlogProofError("checkpoint is not signed by a trusted log key")
    try:
        body = Checkpoint.parse(opened.text)
    except CheckpointError as exc:
        raise TlogProofError(f"malformed checkpoint: {exc}") from None
    if origin is not None and body.origin != origin:
        raise TlogProofError(f"checkpoint origin {body.origin!r} is not the expected {origin!r}")
    if len(witness_sigs) < min_witnesses:
        raise TlogProofError(f"checkpoint has {len(witness_sigs)} valid witness cosignatures, {min_witnesses} required")
    try:
        verify_inclusion(leaf_hash, parsed.index, body.size, parsed.inclusion_proof, body.root_hash)
    except MerkleProofError as exc:
        raise TlogProofError(f"inclusion proof does not verify: {exc}") from None
    return VerifiedProof(body, parsed.index, parsed.extra, log_sigs, witness_sigs)

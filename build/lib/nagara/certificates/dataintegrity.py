"""Data Integrity proofs with the eddsa-rdfc-2022 cryptosuite (W3C VC Data Integrity EdDSA Cryptosuites v1.0).

Signing: the proof options (the document's ``@context`` with type DataIntegrityProof,
cryptosuite, created, verificationMethod, proofPurpose) and the document without its
proof are each canonicalized with RDFC-1.0 and hashed with SHA-256; the Ed25519
signature over ``hash(proof options) || hash(document)`` is the proofValue, multibase
base58btc. Verification redoes the same and checks the signature with the key the
caller resolves from the verification method.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nagara.certificates import ld
from nagara.certificates.multikey import MultibaseError, multibase_decode, multibase_encode

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"


class ProofError(ValueError):
    """The proof is missing, malformed, or does not verify; the message says which."""


def xsd_datetime(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def hash_data(document: dict[str, Any], proof_options: dict[str, Any]) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof_options.items() if k != "proofValue"}
    options["@context"] = document.get("@context")
    proof_hash = hashlib.sha256(ld.canonicalize(options).encode()).digest()
    document_hash = hashlib.sha256(ld.canonicalize(unsecured).encode()).digest()
    return proof_hash + document_hash


def sign(
    document: dict[str, Any],
    key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: datetime,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """The document with a DataIntegrityProof added."""
    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xsd_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    signature = key.sign(hash_data(document, options))
    return {**document, "proof": {**options, "proofValue": multibase_encode(signature)}}


def verify(document: dict[str, Any], resolve_key: Callable[[str], Ed25519PublicKey]) -> dict[str, Any]:
    """Check the document's eddsa-rdfc-2022 proof; returns the proof, raises ProofError."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise ProofError("the credential has no proof (or more than one)")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"the proof is not a {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("the proof's purpose is not assertionMethod")
    method = proof.get("verificationMethod")
    value = proof.get("proofValue")
    if not isinstance(method, str) or not isinstance(value, str):
        raise ProofError("the proof lacks verificationMethod or proofValue")
    try:
        signature = multibase_decode(value)
    except MultibaseError as exc:
        raise ProofError(f"proofValue: {exc}") from None
    if not value.startswith("z") or len(signature) != 64:
        raise ProofError("proofValue is not a base58btc Ed25519 signature")
    key = resolve_key(method)
    try:
        data = hash_data(document, proof)
    except ld.CanonicalizationError as exc:
        raise ProofError(str(exc)) from None
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise ProofError(
            "the signature does not match the credential: it was changed after signing, or not signed by this key"
        ) from None
    return proof

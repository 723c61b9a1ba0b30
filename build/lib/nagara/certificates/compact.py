"""The QR code's signed compact form: a JWS (RFC 7515 compact serialization, EdDSA, RFC 8037).

The payload is a short JSON summary of the certificate (what a verifier with no
network needs to see: number, type, issuer, dates, holder and the key facts) and
the SHA-256 of the full credential, so the QR and the credential attached to the
PDF vouch for each other. It is signed with the same issuer key as the credential
(``kid`` is the verification method's fragment, ``#z6Mk...``, relative to the
payload's ``iss``; with it, the DID verification method in the DID document and the
JWKS), so it verifies offline against a saved copy of either. Everything is kept
short so the QR code stays coarse enough for a phone to read off paper.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nagara.certificates.multikey import MultibaseError, b64url, b64url_decode

VERSION = 1


def short_hash(sha256_hex: str) -> str:
    """The first 128 bits of the credential's SHA-256, base64url: what the QR code binds the credential with."""
    return b64url(bytes.fromhex(sha256_hex)[:16])


class CompactError(ValueError):
    pass


def sign(payload: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    header = {"alg": "EdDSA", "kid": kid}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    )
    return signing_input + "." + b64url(key.sign(signing_input.encode()))


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CompactError("not a compact JWS: expected three base64url parts separated by dots")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (MultibaseError, ValueError):
        raise CompactError("the compact form is not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise CompactError("the compact form's header and payload must be JSON objects")
    if header.get("alg") != "EdDSA" or payload.get("v") != VERSION:
        raise CompactError(f"the compact form must be an EdDSA JWS of a certificate, version {VERSION}")
    return header, payload, signature, f"{parts[0]}.{parts[1]}".encode()


def verify(token: str, key: Ed25519PublicKey) -> dict[str, Any]:
    _header, payload, signature, signing_input = parse(token)
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        raise CompactError("the QR code's signature does not match: it was changed, or not signed by this issuer") from None
    return payload

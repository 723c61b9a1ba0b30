"""Multibase and Multikey encodings of Ed25519 keys and signatures, and their JWK form.

Multibase ``z`` is base58btc (Bitcoin alphabet) and ``u`` is base64url without
padding. A Multikey public key is the multicodec ``ed25519-pub`` (0xed 0x01)
followed by the 32 key bytes; a secret key is ``ed25519-priv`` (0x80 0x26) and
the 32-byte seed. (W3C Controlled Identifiers 1.0, Multikey; VC Data Integrity EdDSA.)
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
ED25519_PUB = b"\xed\x01"
ED25519_PRIV = b"\x80\x26"


class MultibaseError(ValueError):
    pass


def base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = ALPHABET[rest] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _INDEX:
            raise MultibaseError(f"{char!r} is not a base58btc character")
        number = number * 58 + _INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise MultibaseError("not valid base64url") from None


def multibase_encode(data: bytes, base: str = "z") -> str:
    if base == "z":
        return "z" + base58btc_encode(data)
    if base == "u":
        return "u" + b64url(data)
    raise MultibaseError(f"unsupported multibase {base!r}")


def multibase_decode(text: str) -> bytes:
    if text.startswith("z"):
        return base58btc_decode(text[1:])
    if text.startswith("u"):
        return b64url_decode(text[1:])
    raise MultibaseError("expected multibase base58btc ('z...') or base64url ('u...')")


def public_multikey(key: Ed25519PublicKey) -> str:
    return multibase_encode(ED25519_PUB + key.public_bytes_raw())


def secret_multikey(key: Ed25519PrivateKey) -> str:
    return multibase_encode(ED25519_PRIV + key.private_bytes_raw())


def public_key_from_multikey(text: str) -> Ed25519PublicKey:
    raw = multibase_decode(text)
    if len(raw) != 34 or raw[:2] != ED25519_PUB:
        raise MultibaseError("not an Ed25519 Multikey public key (z6Mk...)")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def private_key_from_multikey(text: str) -> Ed25519PrivateKey:
    raw = multibase_decode(text)
    if len(raw) != 34 or raw[:2] != ED25519_PRIV:
        raise MultibaseError("not an Ed25519 Multikey secret key (z3u2...)")
    return Ed25519PrivateKey.from_private_bytes(raw[2:])


def public_jwk(key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    """RFC 8037 OKP key for EdDSA."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(key.public_bytes_raw()), "kid": kid, "alg": "EdDSA", "use": "sig"}


def public_key_from_jwk(jwk: dict[str, object]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise MultibaseError("not an Ed25519 OKP JWK")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(str(jwk["x"])))

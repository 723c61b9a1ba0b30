"""Personal data at rest: AES-GCM with a key id on every value, and blind indexes.

A stored value looks like ``k1:<base64(nonce || ciphertext)>`` so keys can be
rotated: old values name the key that opened them. Lookups (a citizen by
mobile number) use an HMAC blind index, never the plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class PiiCipher:
    def __init__(self, keys: dict[str, bytes], current_key_id: str, index_key: bytes) -> None:
        if current_key_id not in keys:
            raise ValueError(f"current PII key id {current_key_id!r} is not among the keys {sorted(keys)}")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = current_key_id
        self._index_key = index_key

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self._current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, context: str = "") -> str:
        key_id, _, blob = stored.partition(":")
        if key_id not in self._keys:
            raise ValueError(f"value was sealed with unknown PII key id {key_id!r}")
        raw = base64.b64decode(blob)
        return self._keys[key_id].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def blind_index(self, value: str, *, purpose: str) -> str:
        return hmac.new(self._index_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def derive_key(secret: str, purpose: str) -> bytes:
    """A sub-key for one purpose, so one leaked sub-key exposes nothing else."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

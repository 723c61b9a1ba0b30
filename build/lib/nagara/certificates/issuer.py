"""The issuer: the state node's credential key, its did:web DID, DID document and JWKS.

The key is ``NAGARA_CREDENTIAL_KEY``, an Ed25519 Multikey secret key (``z3u2...``,
made by ``nagara certificates keygen``); production refuses to start without it,
and development generates one once under ``<var_dir>/certificates/``. The DID is
``NAGARA_CREDENTIAL_DID`` or else ``did:web:`` of the node's ``base_url`` host (a
port is written ``%3A``), whose document did:web resolvers read at
``/.well-known/did.json``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nagara.certificates import ld
from nagara.certificates.multikey import (
    MultibaseError,
    private_key_from_multikey,
    public_jwk,
    public_multikey,
    secret_multikey,
)
from nagara.kit.settings import Settings

KEY_FILE = "issuer.key"


class IssuerMisconfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class Issuer:
    did: str
    key: Ed25519PrivateKey
    base_url: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def public_multikey(self) -> str:
        return public_multikey(self.public_key)

    @property
    def verification_method(self) -> str:
        return f"{self.did}#{self.public_multikey}"

    def status_list_url(self, list_id: str) -> str:
        return f"{self.base_url}/credentials/status/{list_id}"

    @property
    def verify_url(self) -> str:
        return f"{self.base_url}/verify"

    def did_document(self) -> dict[str, Any]:
        method = {
            "id": self.verification_method,
            "type": "Multikey",
            "controller": self.did,
            "publicKeyMultibase": self.public_multikey,
        }
        return {
            "@context": [ld.DID_V1, ld.MULTIKEY_V1],
            "id": self.did,
            "verificationMethod": [method],
            "assertionMethod": [self.verification_method],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.public_key, self.verification_method)]}


def did_web(base_url: str) -> str:
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise IssuerMisconfigured(f"NAGARA_BASE_URL {base_url!r} has no host to make a did:web DID from")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    path = [quote(p, safe="") for p in parts.path.strip("/").split("/") if p]
    return ":".join(["did:web", quote(host, safe=""), *path])


def _dev_key(settings: Settings) -> str:
    if settings.env == "production":
        raise IssuerMisconfigured("refusing to generate a credential key in production: set NAGARA_CREDENTIAL_KEY")
    directory = Path(settings.var_dir) / "certificates"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    if not path.exists():
        tmp = directory / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secret_multikey(Ed25519PrivateKey.generate()) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # the first process to link wins; the others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


@lru_cache(maxsize=16)
def _issuer(raw_key: str, did: str, base_url: str) -> Issuer:
    try:
        key = private_key_from_multikey(raw_key)
    except (MultibaseError, ValueError) as exc:
        raise IssuerMisconfigured(f"NAGARA_CREDENTIAL_KEY is not an Ed25519 Multikey secret key: {exc}") from None
    return Issuer(did, key, base_url)


def issuer_for(settings: Settings) -> Issuer:
    raw = settings.credential_key.get_secret_value() or _dev_key(settings)
    base_url = settings.base_url.rstrip("/")
    return _issuer(raw, settings.credential_did or did_web(base_url), base_url)


def generate_key() -> str:
    return secret_multikey(Ed25519PrivateKey.generate())

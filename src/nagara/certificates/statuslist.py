"""Bitstring Status List v1.0 (W3C): the bitstring, its encoding, and the status list credential.

Index 0 is the left-most bit (the most significant bit of the first byte). The
encoded list is the GZIP-compressed bitstring, multibase base64url (``u...``). A
list holds 131,072 entries (16 KiB), the minimum the specification sets so that a
verifier fetching a list learns little about which credential it checks.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Any

from nagara.certificates import ld
from nagara.certificates.dataintegrity import xsd_datetime
from nagara.certificates.multikey import MultibaseError, multibase_decode, multibase_encode

LIST_SIZE = 131_072
PURPOSES = ("revocation", "suspension")


class StatusListError(ValueError):
    pass


def empty() -> bytes:
    return bytes(LIST_SIZE // 8)


def get_bit(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(f"status index {index} is outside a list of {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytes, index: int, value: bool) -> bytes:
    get_bit(bits, index)
    out = bytearray(bits)
    if value:
        out[index // 8] |= 0x80 >> (index % 8)
    else:
        out[index // 8] &= ~(0x80 >> (index % 8)) & 0xFF
    return bytes(out)


def encode(bits: bytes) -> str:
    return multibase_encode(gzip.compress(bits, mtime=0), "u")


def decode(encoded: str) -> bytes:
    try:
        raw = multibase_decode(encoded)
        return gzip.decompress(raw)
    except (MultibaseError, OSError, EOFError) as exc:
        raise StatusListError(f"encodedList is not a GZIP-compressed, base64url-multibase bitstring: {exc}") from None


def unsigned_credential(url: str, issuer: str, purpose: str, bits: bytes, valid_from: datetime) -> dict[str, Any]:

    return {
        "@context": [ld.VC_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": xsd_datetime(valid_from),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode(bits),
        },
    }

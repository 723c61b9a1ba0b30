"""A ledger entry: canonical JSON (RFC 8785) that names a record without revealing it.

::

    {"actor_role":"section_clerk","content_hash":"<hex>","salt_id":"<hex>","subject":"KL-TVM-2026-000123",
     "tenant":"kl.tvm-corp","time":"2026-11-22T10:15:00.123456Z","type":"application.action","v":1}

``content_hash`` is HMAC-SHA256 keyed with the entry's salt over the canonical
JSON of the record's content. The salt is HMAC-SHA256 of the public ``salt_id``
under a key derived from the node's secret key, so nobody without that secret
can test guesses of the content against the public log, while the node (the
record's owner) can reveal one entry's salt to prove that entry's content
without exposing any other. The actor is named by role, never by identity; the
subject is an application number, certificate id or payment reference.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

from nagara.kit.crypto import derive_key

__all__ = [
    "ENTRY_VERSION",
    "Entry",
    "EntryError",
    "content_hash",
    "entry_salt",
    "format_entry",
    "new_salt_id",
    "parse_entry",
    "verify_content",
]

ENTRY_VERSION = 1
SALT_PURPOSE = "ledger-content-salt"

TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
TENANT_RE = re.compile(r"[a-z]{2,8}(\.[a-z0-9][a-z0-9-]*){0,2}")
SUBJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
ROLE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
FIELDS = {"v", "type", "tenant", "subject", "content_hash", "salt_id", "actor_role", "time"}


class EntryError(ValueError):
    """An entry, or the arguments for one, is malformed."""


@dataclass(frozen=True)
class Entry:
    type: str
    tenant: str
    subject: str
    content_hash: str
    salt_id: str
    actor_role: str | None
    time: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "type": self.type,
            "tenant": self.tenant,
            "subject": self.subject,
            "content_hash": self.content_hash,
            "salt_id": self.salt_id,
            "actor_role": self.actor_role,
            "time": self.time,
        }

    def to_bytes(self) -> bytes:
        # Every field is an integer, null, or a string restricted to printable ASCII that JSON
        # does not escape, so sorted compact json.dumps is exactly RFC 8785 (and much faster);
        # parse_entry checks stored entries against rfc8785 itself.
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":")).encode("ascii")


def new_salt_id() -> str:
    return secrets.token_hex(16)


def entry_salt(secret: str, salt_id: str) -> bytes:
    """The per-entry salt; only the holder of the node's secret key can compute it."""
    return hmac.new(derive_key(secret, SALT_PURPOSE), salt_id.encode(), hashlib.sha256).digest()


def canonical_content(content: dict[str, Any]) -> bytes:
    if not isinstance(content, dict):
        raise EntryError("the record content must be a JSON object")
    try:
        return rfc8785.dumps(content)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EntryError(f"the record content is not canonicalisable JSON: {exc}") from None


def content_hash(salt: bytes, content: dict[str, Any]) -> str:
    return hmac.new(salt, canonical_content(content), hashlib.sha256).hexdigest()


def _check(name: str, value: str, pattern: re.Pattern[str]) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise EntryError(f"invalid ledger entry {name}: {value!r} (must match {pattern.pattern})")


def format_entry(
    *,
    type: str,  # noqa: A002 - the entry field is called type
    tenant: str,
    subject: str,
    content_hash: str,
    salt_id: str,
    actor_role: str | None,
    time: datetime,
) -> Entry:
    _check("type", type, TYPE_RE)
    _check("tenant", tenant, TENANT_RE)
    _check("subject", subject, SUBJECT_RE)
    _check("content hash", content_hash, _HEX64)
    _check("salt id", salt_id, _HEX32)
    if actor_role is not None:
        _check("actor role", actor_role, ROLE_RE)
    if time.tzinfo is None:
        raise EntryError("the entry time must be timezone-aware")
    stamp = time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Entry(type, tenant, subject, content_hash, salt_id, actor_role, stamp)


def parse_entry(data: bytes) -> Entry:
    """Parse and check an entry: valid canonical JSON of the current version with every field."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EntryError(f"entry is not JSON: {exc}") from None
    if not isinstance(raw, dict) or set(raw) != FIELDS or raw.get("v") != ENTRY_VERSION:
        raise EntryError(f"entry does not have exactly the fields of version {ENTRY_VERSION}")
    if not isinstance(raw["time"], str) or not _TIME.fullmatch(raw["time"]):
        raise EntryError("entry time is not an RFC 3339 UTC time with microseconds")
    entry = format_entry(
        type=raw["type"],
        tenant=raw["tenant"],
        subject=raw["subject"],
        content_hash=raw["content_hash"],
        salt_id=raw["salt_id"],
        actor_role=raw["actor_role"],
        time=datetime.strptime(raw["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
    )
    if entry.to_bytes() != data:
        raise EntryError("entry is not in RFC 8785 canonical form")
    return entry


def verify_content(entry: Entry, content: dict[str, Any], salt: bytes) -> bool:
    """Whether ``content`` with the revealed ``salt`` is what the entry committed to."""
    return hmac.compare_digest(content_hash(salt, content), entry.content_hash)

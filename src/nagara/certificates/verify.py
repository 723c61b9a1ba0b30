"""Verifying a certificate: its proof, its dates, its status lists; the same code online and offline.

What is verified comes in one of four forms: the credential (JSON), the certificate PDF
(which carries the credential as the attachment ``credential.json``), the QR code's
content (the verification address with the signed compact form, or the compact form
alone), or a registration number (online only: the node looks it up). The issuer's
keys come from a :class:`Trust` (the node's own, or a DID document or JWKS saved for
offline use) and status lists from a callable (the node's database, the network, or
files); what could not be checked is said, never assumed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from nagara.certificates import compact, dataintegrity, statuslist
from nagara.certificates.multikey import MultibaseError, public_key_from_jwk, public_key_from_multikey
from nagara.certificates.render import ATTACHMENT

GENUINE_STATES = ("current", "revoked", "suspended", "expired", "superseded", "not_yet_valid")

StatusFetcher = Callable[[str], dict[str, Any] | None]


class InputError(ValueError):
    """The input is none of the forms a certificate can be verified from."""


@dataclass
class Trust:
    """The verification methods we accept: id -> Ed25519 public key."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    def add_did_document(self, document: dict[str, Any]) -> None:
        assertion = set(document.get("assertionMethod") or [])
        for method in document.get("verificationMethod") or []:
            if method.get("id") in assertion and method.get("type") == "Multikey":
                self.keys[method["id"]] = public_key_from_multikey(method["publicKeyMultibase"])

    def add_jwks(self, jwks: dict[str, Any]) -> None:
        for jwk in jwks.get("keys") or []:
            if isinstance(jwk.get("kid"), str):
                self.keys[jwk["kid"]] = public_key_from_jwk(jwk)

    def resolve(self, method: str) -> Ed25519PublicKey:
        key = self.keys.get(method)
        if key is None:
            raise dataintegrity.ProofError(f"the signing key {method} is not one of the issuer keys trusted here")
        return key


@dataclass
class Result:
    verified: bool = False  # the signature checks with a trusted key
    status: str = "invalid"  # current | revoked | suspended | expired | superseded | not_yet_valid | invalid
    checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    compact: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "status": self.status,
            "checks": self.checks,
            "errors": self.errors,
            "warnings": self.warnings,
            "certificate": self.summary,
        }


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _summary(credential: dict[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject") or {}
    issuer = credential.get("issuer")
    return {
        "number": subject.get("registrationNumber"),
        "edition": subject.get("edition"),
        "type": subject.get("certificateType"),
        "title": subject.get("title"),
        "local_body": subject.get("localBodyCode"),
        "local_body_name": subject.get("localName"),
        "application_number": subject.get("applicationNumber"),
        "issuer": issuer.get("id") if isinstance(issuer, dict) else issuer,
        "credential_id": credential.get("id"),
        "valid_from": credential.get("validFrom"),
        "valid_until": credential.get("validUntil"),
        "record": [
            {"code": f.get("code"), "label": f.get("label"), "value": f.get("value"), "display": f.get("display")}
            for f in subject.get("record") or []
        ],
    }


def _status_bits(entry: dict[str, Any], fetch: StatusFetcher, trust: Trust, issuer: str | None) -> bool | None:
    url = entry.get("statusListCredential")
    if not isinstance(url, str):
        raise InputError("a credentialStatus entry has no statusListCredential")
    listing = fetch(url)
    if listing is None:
        return None
    dataintegrity.verify(listing, trust.resolve)
    listing_issuer = listing.get("issuer")
    if issuer is not None and (listing_issuer.get("id") if isinstance(listing_issuer, dict) else listing_issuer) != issuer:
        raise dataintegrity.ProofError("the status list is not issued by the credential's issuer")
    subject = listing.get("credentialSubject") or {}
    if subject.get("statusPurpose") != entry.get("statusPurpose"):
        raise dataintegrity.ProofError("the status list's purpose does not match the credential's status entry")
    bits = statuslist.decode(str(subject.get("encodedList", "")))
    return statuslist.get_bit(bits, int(str(entry.get("statusListIndex", "-1"))))


def verify_credential(
    credential: dict[str, Any], trust: Trust, fetch_status: StatusFetcher | None, now: datetime | None = None
) -> Result:
    """Proof, validity period and status of one credential."""
    now = now or datetime.now(UTC)
    result = Result(credential=credential, summary=_summary(credential))
    try:
        dataintegrity.verify(credential, trust.resolve)
    except (dataintegrity.ProofError, MultibaseError) as exc:
        result.errors.append(f"proof: {exc}")
        return result
    result.verified = True
    result.checks.append("proof")
    issuer = result.summary["issuer"]
    proof_method = str(credential["proof"]["verificationMethod"])
    if issuer and not proof_method.startswith(str(issuer) + "#"):
        result.verified = False
        result.errors.append(f"proof: signed by {proof_method}, which is not a key of the issuer {issuer}")
        return result
    valid_from, valid_until = _parse_time(credential.get("validFrom")), _parse_time(credential.get("validUntil"))
    result.status = "current"
    result.checks.append("validity")
    if valid_from and now < valid_from:
        result.status = "not_yet_valid"
    elif valid_until and now > valid_until:
        result.status = "expired"
    entries = credential.get("credentialStatus") or []
    entries = entries if isinstance(entries, list) else [entries]
    if fetch_status is None:
        result.warnings.append("status: not checked (no status list available offline)")
        return result
    checked = 0
    for entry in entries:
        try:
            bit = _status_bits(entry, fetch_status, trust, issuer)
        except (InputError, dataintegrity.ProofError, statuslist.StatusListError, ValueError) as exc:
            result.errors.append(f"status: {exc}")
            continue
        if bit is None:
            result.warnings.append(f"status: the {entry.get('statusPurpose')} list could not be read")
            continue
        checked += 1
        if bit and entry.get("statusPurpose") == "revocation":
            result.status = "revoked"
        elif bit and entry.get("statusPurpose") == "suspension" and result.status != "revoked":
            result.status = "suspended"
    if checked and checked == len(entries):
        result.checks.append("status")
    return result


def verify_compact_form(token: str, trust: Trust, now: datetime | None = None) -> Result:
    """The QR code's compact form alone: signature and dates (status needs the list: see verify_credential)."""
    now = now or datetime.now(UTC)
    result = Result()
    try:
        header, claimed, _sig, _input = compact.parse(token)
        kid = str(header.get("kid"))
        # the key is named relative to the issuer (#z6Mk...), so it is always one of the issuer's
        method = str(claimed.get("iss")) + kid if kid.startswith("#") else kid
        if not method.startswith(str(claimed.get("iss")) + "#"):
            raise compact.CompactError("signed by a key that is not the issuer's")
        payload = compact.verify(token, trust.resolve(method))
    except (compact.CompactError, dataintegrity.ProofError) as exc:
        result.errors.append(f"qr: {exc}")
        return result
    result.verified = True
    result.compact = payload
    result.checks.append("qr-signature")
    result.summary = {
        "number": payload.get("n"),
        "edition": payload.get("ed"),
        "type": payload.get("t"),
        "local_body": payload.get("lb"),
        "issuer": payload.get("iss"),
        "credential_id": f"urn:uuid:{payload.get('jti')}",
        "valid_from": _iso(payload.get("nbf")),
        "valid_until": _iso(payload.get("exp")),
        "record": [{"code": c, "value": v} for c, v in payload.get("f") or []],
    }
    result.status = "current"
    exp, nbf = payload.get("exp"), payload.get("nbf")
    if isinstance(nbf, int) and now.timestamp() < nbf:
        result.status = "not_yet_valid"
    elif isinstance(exp, int) and now.timestamp() > exp:
        result.status = "expired"
    result.warnings.append("status: the QR code alone cannot tell revocation; check online or with the status list")
    return result


def _iso(stamp: Any) -> str | None:
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z") if isinstance(stamp, int) else None


def compact_from_qr(text: str) -> str:
    """The compact form from what a QR code holds: the verification address with ``?c=``, or the form itself."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        values = parse_qs(urlsplit(text).query).get("c")
        if not values:
            raise InputError("the address has no 'c' parameter with the certificate's signed form")
        return values[0]
    return unquote(text)


def credential_from_pdf(content: bytes) -> dict[str, Any]:
    from pypdf import PdfReader  # noqa: PLC0415 - read only when an uploaded PDF is verified
    from pypdf.errors import PdfReadError  # noqa: PLC0415 - read only when an uploaded PDF is verified

    try:
        reader = PdfReader(io.BytesIO(content))
        attachments = reader.attachments
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a readable PDF: {exc}") from None
    data = attachments.get(ATTACHMENT)
    if not data:
        raise InputError(f"the PDF carries no {ATTACHMENT}: it is not a certificate issued by Nagara")
    try:
        value = json.loads(data[0])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"the PDF's {ATTACHMENT} is not JSON") from None
    if not isinstance(value, dict):
        raise InputError(f"the PDF's {ATTACHMENT} is not a credential")
    return value


def matches_compact(result: Result, credential_sha: str) -> bool:
    return bool(result.compact and result.compact.get("h") == compact.short_hash(credential_sha))


def first_error(results: Iterable[Result]) -> str | None:
    return next((e for r in results for e in r.errors), None)

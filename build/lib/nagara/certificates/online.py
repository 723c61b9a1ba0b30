"""Verification on this node: our issuer key, our status lists from the database, our ledger's proofs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from nagara.certificates import compact, service, verify
from nagara.certificates.issuer import issuer_for
from nagara.certificates.models import SUPERSEDED, Certificate
from nagara.kit.db import utcnow
from nagara.kit.errors import Invalid
from nagara.ledger import entry as ledger_entry
from nagara.ledger import proof as tlog_proof
from nagara.ledger import service as ledger
from nagara.ledger.merkle import leaf_hash
from nagara.runtime import runtime_of


def trust(session: Session) -> verify.Trust:
    found = verify.Trust()
    found.add_did_document(issuer_for(runtime_of(session).settings).did_document())
    return found


def status_fetcher(session: Session) -> verify.StatusFetcher:
    prefix = issuer_for(runtime_of(session).settings).status_list_url("")

    def fetch(url: str) -> dict[str, Any] | None:
        if not url.startswith(prefix):
            return None
        try:
            return service.status_list_credential(session, url.removeprefix(prefix))
        except Exception:  # noqa: BLE001 - an unknown list reads as "could not be read"
            return None

    return fetch


def _ledger(session: Session, cert: Certificate, credential: dict[str, Any] | None) -> dict[str, Any]:
    settings = runtime_of(session).settings
    found = ledger.subject_entries(session, settings, cert.number)
    vkey = ledger.log_vkey(session, settings) if found.checkpoint else None
    supersedes = (credential or {}).get("credentialSubject", {}).get("supersedes")
    candidates = [service.ledger_content(cert, e) for e in ("issued", "revoked", "suspended", "reinstated")]
    if supersedes:
        candidates += [service.ledger_content(cert, e, supersedes=supersedes) for e in ("reissued", "renewed")]
    entries = []
    for item in found.entries:
        body = ledger.entry_dict(item.body)
        salt = ledger.entry_salt_for(session, str(body["salt_id"]))
        matches = any(ledger_entry.content_hash(salt, c) == body["content_hash"] for c in candidates)
        if not matches:
            continue  # an entry of another edition of the same number
        try:
            tlog_proof.verify_proof(item.proof, leaf_hash(item.body), [vkey] if vkey else [])
            proved = True
        except (tlog_proof.TlogProofError, ValueError):
            proved = False
        entries.append(
            {
                "index": item.index,
                "type": body["type"],
                "time": body["time"],
                "inclusion_proof_verified": proved,
                "content_matches": matches,
                "proof": item.proof,
            }
        )
    return {
        "checkpoint_size": found.checkpoint.size if found.checkpoint else None,
        "origin": found.checkpoint.origin if found.checkpoint else None,
        "entries": entries,
        "pending": found.pending,
    }


def _finish(session: Session, result: verify.Result, cert: Certificate | None) -> dict[str, Any]:
    out = result.as_dict()
    if cert is not None and result.verified:
        if cert.status == SUPERSEDED and result.status in ("current", "revoked"):
            out["status"] = "superseded"
            newer = session.get(Certificate, cert.superseded_by_id) if cert.superseded_by_id else None
            out["certificate"]["superseded_by"] = (
                {"credential_id": newer.credential_id, "edition": newer.edition} if newer else None
            )
        out["certificate"]["status_changed_at"] = cert.status_changed_at.isoformat() if cert.status_changed_at else None
        out["ledger"] = _ledger(session, cert, result.credential)
    return out


def verify_credential(session: Session, credential: dict[str, Any]) -> dict[str, Any]:
    result = verify.verify_credential(credential, trust(session), status_fetcher(session), utcnow())
    cert = service.by_credential(session, str(credential.get("id", "")))
    if cert is not None and result.verified and cert.credential_sha256 != service.credential_sha256(credential):
        result.warnings.append("the credential verifies but differs from the one on record")
    return _finish(session, result, cert)


def verify_pdf(session: Session, content: bytes) -> dict[str, Any]:
    return verify_credential(session, verify.credential_from_pdf(content))


def verify_qr(session: Session, text: str) -> dict[str, Any]:
    token = verify.compact_from_qr(text)
    result = verify.verify_compact_form(token, trust(session), utcnow())
    cert = service.by_credential(session, "urn:uuid:" + str((result.compact or {}).get("jti", "")))
    if result.verified and cert is not None:
        if compact.short_hash(cert.credential_sha256) != (result.compact or {}).get("h"):
            result.errors.append("qr: the QR code's credential hash does not match the credential on record")
            result.verified = False
            result.status = "invalid"
            return result.as_dict()
        # Online we know the status: verify the credential on record, which the QR code vouches for.
        full = verify.verify_credential(service.credential_of(session, cert), trust(session), status_fetcher(session), utcnow())
        result.status = full.status
        result.checks += [c for c in full.checks if c != "proof"]
        result.warnings = [w for w in result.warnings if not w.startswith("status:")] + full.warnings
        result.errors += full.errors
    return _finish(session, result, cert)


def verify_number(session: Session, number: str) -> dict[str, Any]:
    """By registration number: status and where it sits in the ledger, without the record's personal data."""
    cert = service.by_number(session, number)
    if cert is None:
        raise Invalid(
            "unknown number",
            [
                {
                    "loc": ["number"],
                    "msg": f"no certificate numbered {number.strip()!r} was issued by this node",
                    "type": "not_found",
                }
            ],
        )
    credential = service.credential_of(session, cert)
    result = verify.verify_credential(credential, trust(session), status_fetcher(session), utcnow())
    for personal in ("record", "application_number"):  # a number alone shows the certificate's standing, not its content
        result.summary.pop(personal, None)
    return _finish(session, result, cert)


def as_json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)

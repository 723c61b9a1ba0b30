"""Approval issues the certificate in the same transaction: number, signed credential, status entries, ledger."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.certificates.models import Certificate
from nagara.ledger.models import PendingEntry
from tests.certificates.helpers import approved_birth, certificate, credential, digital_bazaar_verify
from tests.conftest import People


def test_approval_issues_a_signed_credential(client: TestClient, people: People, tmp_path: Path) -> None:
    app = approved_birth(client, people, child_name="ആൻ മേരി")
    cert = certificate(client, people, "citizen1", app["number"])
    assert cert["status"] == "active" and cert["edition"] == 1
    assert cert["number"].startswith("KL-") and "-B-" in cert["number"]
    assert cert["valid_until"] is None and not cert["expired"]
    assert cert["links"]["pdf"] == f"/api/v1/applications/{app['number']}/certificate.pdf"
    vc = credential(client, people, "citizen1", app["number"])
    assert vc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert vc["issuer"]["id"] == cert["issuer"]
    record = {f["code"]: f for f in vc["credentialSubject"]["record"]}
    assert record["child_name"]["value"] == "ആൻ മേരി"
    assert record["sex"]["display"] == {"ml": "സ്ത്രീ", "en": "Female"}
    did = client.get("/.well-known/did.json").json()
    assert did["id"] == vc["issuer"]["id"]
    [ok] = digital_bazaar_verify([vc], did, tmp_path)
    assert ok == {"verified": True, "error": None}
    with people.runtime.db.unit_of_work() as s:
        row = s.scalar(select(Certificate).where(Certificate.number == cert["number"]))
        assert row is not None
        pending = s.scalars(select(PendingEntry.type).where(PendingEntry.subject == cert["number"])).all()
        assert pending == ["certificate.issued"]
        assert "ആൻ" not in row.credential_sealed  # sealed at rest

"""Revoke, suspend, reinstate, reissue; expiry: each reads the same in the API, the verifier, the status list and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from nagara.certificates import statuslist, verify
from nagara.certificates.cli import verify_file
from nagara.cli import app as cli_app
from nagara.ledger.models import PendingEntry
from tests.applications.helpers import act, apply, fetch, pay_at_counter, upload
from tests.certificates.helpers import approved_birth, certificate, credential, digital_bazaar_verify
from tests.conftest import People


def _post(
    client: TestClient, people: People, who: str, number: str, what: str, body: dict[str, object], status: int = 200
) -> dict:
    response = client.post(f"/api/v1/applications/{number}/certificate/{what}", json=body, headers=people.headers(who))
    assert response.status_code == status, response.text
    return response.json()


def _bit(client: TestClient, vc: dict, purpose: str) -> bool:
    entry = next(e for e in vc["credentialStatus"] if e["statusPurpose"] == purpose)
    listing = client.get("/" + entry["statusListCredential"].split("://", 1)[1].split("/", 1)[1]).json()
    return statuslist.get_bit(statuslist.decode(listing["credentialSubject"]["encodedList"]), int(entry["statusListIndex"]))


def _cli(client: TestClient, path: Path) -> dict:
    """The CLI's verification, its status lists and DID document fetched from this node."""

    def fetch(url: str) -> dict | None:
        response = client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
        return response.json() if response.status_code == 200 else None

    return verify_file(path, did_document=client.get("/.well-known/did.json").json(), fetch=fetch)


def test_revoked_reads_revoked_everywhere(client: TestClient, people: People, tmp_path: Path) -> None:
    app = approved_birth(client, people)
    number = app["number"]
    vc = credential(client, people, "citizen1", number)
    pdf = client.get(f"/api/v1/applications/{number}/certificate.pdf", headers=people.headers("citizen1")).content
    (tmp_path / "c.pdf").write_bytes(pdf)
    assert _cli(client, tmp_path / "c.pdf")["status"] == "current"
    # the applicant and another body's secretary may not revoke; a reason is required
    _post(client, people, "citizen1", number, "revoke", {"reason": "wrong entry"}, 403)
    _post(client, people, "b_secretary", number, "revoke", {"reason": "wrong entry"}, 404)
    _post(client, people, "a_secretary", number, "revoke", {"reason": ""}, 422)
    out = _post(client, people, "a_secretary", number, "revoke", {"reason": "issued on a forged hospital report"})
    assert out["status"] == "revoked" and out["status_reason"] == "issued on a forged hospital report"
    assert certificate(client, people, "citizen1", number)["status"] == "revoked"
    assert _bit(client, vc, "revocation") is True
    online = client.post("/credentials/verify", json={"verifiableCredential": vc}).json()
    assert online["verified"] is True and online["status"] == "revoked", online
    assert (
        client.post("/credentials/verify-document", files={"file": ("c.pdf", pdf, "application/pdf")}).json()["status"]
        == "revoked"
    )
    by_number = client.post("/credentials/verify-document", data={"number": out["number"]}).json()
    assert by_number["status"] == "revoked" and "record" not in by_number["certificate"]  # a number shows no personal data
    assert _cli(client, tmp_path / "c.pdf")["status"] == "revoked"
    # the command itself, with nothing fetched: saved DID document and status lists
    (tmp_path / "did.json").write_text(json.dumps(client.get("/.well-known/did.json").json()))
    lists = []
    for i, entry in enumerate(vc["credentialStatus"]):
        path = tmp_path / f"list-{i}.json"
        path.write_text(json.dumps(client.get("/" + entry["statusListCredential"].split("://", 1)[1].split("/", 1)[1]).json()))
        lists += ["--status-list", str(path)]
    run = CliRunner().invoke(
        cli_app,
        ["certificates", "verify", str(tmp_path / "c.pdf"), "--offline", "--did-document", str(tmp_path / "did.json"), *lists],
    )
    assert run.exit_code == 1, run.output
    assert json.loads(run.output)["status"] == "revoked"
    [still_signed] = digital_bazaar_verify([vc], client.get("/.well-known/did.json").json(), tmp_path)
    assert still_signed["verified"] is True  # the signature stays good; the status list says revoked
    _post(client, people, "a_secretary", number, "revoke", {"reason": "again, twice"}, 409)
    with people.runtime.db.unit_of_work() as s:
        kinds = s.scalars(select(PendingEntry.type).where(PendingEntry.subject == out["number"]).order_by(PendingEntry.id)).all()
    assert kinds == ["certificate.issued", "certificate.revoked"]


def test_suspend_and_reinstate(client: TestClient, people: People) -> None:
    app = approved_birth(client, people)
    number = app["number"]
    vc = credential(client, people, "citizen1", number)
    assert (
        _post(client, people, "a_secretary", number, "suspend", {"reason": "under inquiry by the district registrar"})["status"]
        == "suspended"
    )
    assert _bit(client, vc, "suspension") is True
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).json()["status"] == "suspended"
    _post(client, people, "a_secretary", number, "suspend", {"reason": "a second time"}, 409)
    assert (
        _post(client, people, "a_secretary", number, "reinstate", {"reason": "inquiry closed, record correct"})["status"]
        == "active"
    )
    assert _bit(client, vc, "suspension") is False
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).json()["status"] == "current"


def test_reissue_supersedes_the_old_edition(client: TestClient, people: People, tmp_path: Path) -> None:
    app = approved_birth(client, people, child_name="Ana")
    number = app["number"]
    old = credential(client, people, "citizen1", number)
    bad = _post(client, people, "a_secretary", number, "reissue", {"reason": "spelling", "corrections": {"nickname": "x"}}, 422)
    assert bad["errors"][0]["loc"] == ["body", "corrections", "nickname"]
    out = _post(
        client,
        people,
        "a_secretary",
        number,
        "reissue",
        {"reason": "the name was misspelt", "corrections": {"child_name": "Anna"}},
    )
    assert out["edition"] == 2 and out["status"] == "active" and out["number"] == old["credentialSubject"]["registrationNumber"]
    assert [e["status"] for e in out["editions"]] == ["active", "superseded"]
    new = credential(client, people, "citizen1", number)
    assert new["credentialSubject"]["supersedes"] == old["id"]
    assert {f["code"]: f["value"] for f in new["credentialSubject"]["record"]}["child_name"] == "Anna"
    old_check = client.post("/credentials/verify", json={"verifiableCredential": old}).json()
    assert old_check["status"] == "superseded" and old_check["certificate"]["superseded_by"]["edition"] == 2
    new_check = client.post("/credentials/verify", json={"verifiableCredential": new}).json()
    assert new_check["status"] == "current"
    assert [e["verified"] for e in digital_bazaar_verify([old, new], client.get("/.well-known/did.json").json(), tmp_path)] == [
        True,
        True,
    ]


TRADE = {
    "trade_name": "Sree Bakery",
    "constitution": "proprietorship",
    "activity": "Bakery and sweets",
    "sector": "manufacturing",
    "capital_investment": 500000,
    "building_number": "TC 12/345",
    "floor_area": 40,
    "premises_tenure": "rented",
    "food_business": True,
    "fssai_number": "11223344556677",
}
OFFICERS = {
    "section_clerk": "a_section_clerk",
    "secretary": "a_secretary",
    "officer": "a_officer",
    "counter_clerk": "a_counter_clerk",
}


def _to_approval(client: TestClient, people: People, service: str, form: dict) -> dict:
    """Apply at body A as citizen 1 with every document, and let the officers carry it to approval."""

    svc = client.get(f"/api/v1/tenants/{people.body_a}/services/{service}").json()
    app = apply(client, people, "citizen1", people.body_a, service, form, submit=False)
    for doc in svc["documents"]:
        upload(client, people, "citizen1", app["number"], doc["code"])
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "submit")
    for _ in range(8):
        if not app["is_open"]:
            break
        who = OFFICERS[app["assigned_role"]]
        view = fetch(client, people, who, app["number"])
        codes = [a["code"] for a in view["actions"]]
        if not view["fee_paid"]:
            app = pay_at_counter(client, people, "a_counter_clerk", app["number"])
            continue
        app = act(client, people, who, view, next(c for c in ("approve", "forward", "report") if c in codes), "checked on site")
    assert app["state"] == "approved", app
    return app


def test_an_expired_licence_reads_expired(client: TestClient, people: People) -> None:
    app = _to_approval(client, people, "trade-licence-new", TRADE)
    cert = certificate(client, people, "citizen1", app["number"])
    assert cert["valid_until"] is not None and not cert["expired"]
    assert "-TL-" in cert["number"]
    vc = credential(client, people, "citizen1", app["number"])
    until = datetime.fromisoformat(vc["validUntil"])
    valid_from = datetime.fromisoformat(vc["validFrom"])
    assert (until - valid_from).days == 365  # the service's validity_days
    trust = verify.Trust()
    trust.add_did_document(client.get("/.well-known/did.json").json())
    later = verify.verify_credential(vc, trust, None, now=until + timedelta(days=1))
    assert later.verified and later.status == "expired"
    assert verify.verify_credential(vc, trust, None, now=datetime.now(UTC)).status == "current"


def test_renewal_extends_the_same_licence(client: TestClient, people: People, tmp_path: Path) -> None:
    first = _to_approval(client, people, "trade-licence-new", TRADE)
    licence = certificate(client, people, "citizen1", first["number"])
    renewal_form = {
        "licence_number": licence["number"],
        "trade_name": "Sree Bakery",
        "licence_valid_until": licence["valid_until"][:10],
        "sector": "manufacturing",
        "capital_investment": 600000,
        "changes_since_last": False,
    }
    renewal = _to_approval(client, people, "trade-licence-renewal", renewal_form)
    renewed = certificate(client, people, "citizen1", renewal["number"])
    assert renewed["number"] == licence["number"] and renewed["edition"] == 2
    assert renewed["valid_from"] == licence["valid_until"]  # renewed before expiry: the new year starts where the old ends
    assert [e["status"] for e in renewed["editions"]] == ["active", "superseded"]
    vc = credential(client, people, "citizen1", renewal["number"])
    fields = {f["code"]: f["value"] for f in vc["credentialSubject"]["record"]}
    assert fields["activity"] == "Bakery and sweets"  # carried over from the licence
    assert "licence_number" not in fields
    from_first = certificate(client, people, "citizen1", first["number"])  # the licence's first application shows it renewed
    assert from_first["edition"] == 2 and [e["status"] for e in from_first["editions"]] == ["active", "superseded"]
    with people.runtime.db.unit_of_work() as s:
        kinds = s.scalars(
            select(PendingEntry.type).where(PendingEntry.subject == licence["number"]).order_by(PendingEntry.id)
        ).all()
    assert kinds == ["certificate.issued", "certificate.renewed"]
    # until the old year ends, the renewed edition is genuine but not yet valid, to us and to Digital Bazaar alike
    assert client.post("/credentials/verify", json={"verifiableCredential": vc}).json()["status"] == "not_yet_valid"
    [early] = digital_bazaar_verify([vc], client.get("/.well-known/did.json").json(), tmp_path)
    assert early["verified"] is False and 'before "validFrom"' in early["error"]


def test_the_cli_reads_a_credential_file_offline(client: TestClient, people: People, tmp_path: Path) -> None:
    app = approved_birth(client, people)
    vc = credential(client, people, "citizen1", app["number"])
    (tmp_path / "vc.json").write_text(json.dumps(vc))
    offline = verify_file(tmp_path / "vc.json", did_document=client.get("/.well-known/did.json").json(), fetch=None)
    assert offline["verified"] is True and offline["status"] == "current"
    assert any("status: not checked" in w for w in offline["warnings"])
    vc["credentialSubject"]["record"][0]["value"] = "Someone else"
    (tmp_path / "forged.json").write_text(json.dumps(vc))
    forged = verify_file(tmp_path / "forged.json", did_document=client.get("/.well-known/did.json").json(), fetch=None)
    assert forged["verified"] is False and forged["status"] == "invalid"

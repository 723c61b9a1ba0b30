"""Imported records are first-class: a migrated property arrear is a demand paid through the local gateway; a migrated
birth is issued as a certificate whose credential says where it came from, and the independent verifier accepts it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.identity.models import User
from nagara.identity.service import load_principal
from nagara.kit.db import utcnow
from nagara.kit.errors import Forbidden
from nagara.migration import records, service
from nagara.migration.mapping import load_mapping
from nagara.migration.models import MigrationRecord
from nagara.migration.sources import open_source
from nagara.payments.gateways import local_gateway
from nagara.payments.models import Demand
from nagara.runtime import Runtime
from nagara.worker.runner import Worker
from tests.certificates.helpers import certificate, credential, digital_bazaar_verify
from tests.certificates.test_lifecycle import _to_approval
from tests.conftest import PACKS, People
from tests.migration.legacy import BIRTH_COLUMNS, messy_births, write_csv

BIRTHS = PACKS / "kl" / "migrations" / "kl-sevana-births.yaml"
PROPERTY = PACKS / "kl" / "migrations" / "kl-sanchaya-property.yaml"
TRADE = PACKS / "kl" / "migrations" / "kl-sanchaya-trade-licences.yaml"
TRADE_COLUMNS = ["LB_CODE", "LICENCE_NO", "ISSUE_DATE", "VALID_UPTO", "TRADE_NAME", "LICENSEE", "CATEGORY", "FEE"]
COLUMNS = [
    "LB_CODE", "ASSESSMENT_NO", "WARD_NO", "OWNER_NAME", "OWNER_NAME_ML", "DOOR_NO", "USAGE",
    "PLINTH_AREA", "ZONE", "PERIOD", "DUE_DATE", "TAX_ARREAR", "LIBRARY_CESS", "PENALTY",
]  # fmt: skip
LGD = {"kl.kannur-corp": "252125", "kl.kochi-corp": "252220", "kl.kollam-corp": "252255"}


def _row(body: str, assessment: str, period: str, tax: str, cess: str = "", penalty: str = "", **changes: str) -> dict[str, str]:
    row = {
        "LB_CODE": LGD[body],
        "ASSESSMENT_NO": assessment,
        "WARD_NO": "12",
        "OWNER_NAME": "Thomas Mathew",
        "OWNER_NAME_ML": "tXmakv",
        "DOOR_NO": "TC 12/345",
        "USAGE": "RES",
        "PLINTH_AREA": "120",
        "ZONE": "2",
        "PERIOD": period,
        "DUE_DATE": "30/09/2024" if period.endswith("H1") else "31/03/2025",
        "TAX_ARREAR": tax,
        "LIBRARY_CESS": cess,
        "PENALTY": penalty,
    }
    return {**row, **changes}


def test_property_arrears_become_demands_and_one_is_paid_through_the_gateway(
    client: TestClient, people: People, runtime: Runtime, tmp_path: Path
) -> None:
    body = people.body_a
    rows = [
        _row(body, "A-101", "2024-25/H1", "1,200.00", "60", "Rs. 24/-"),
        _row(body, "A-101", "2024-25/H2", "1200", "60"),  # the same property, another half-year
        _row(body, "A-102", "2024-25/H1", "0"),  # nothing owed: imported, no demand
        _row(body, "A-103", "2024-25/H1", "-5"),  # refused: negative
        _row(body, "A-104", "2024-25", "800"),  # refused: the half-year is not named
        _row(body, "A-101", "2024-25/H1", "1,200.00", "60", "Rs. 24/-"),  # duplicate of row 2
    ]
    path = write_csv(tmp_path / "property.csv", COLUMNS, rows)
    outcome = service.run(runtime, load_mapping(PROPERTY), open_source(path), batch_size=4)
    total = service.totals(outcome.tally.groups)
    assert (total["imported"], total["rejected"], total["duplicate"]) == (3, 2, 1)
    assert total["money"] == {"tax_arrear": 240000, "cess_arrear": 12000, "penalty_arrear": 2400}
    with runtime.db.unit_of_work(readonly=True) as s:
        records = list(s.scalars(select(MigrationRecord).order_by(MigrationRecord.source_row)))
        assert [r.target_kind for r in records] == ["demand", "demand", None]
        demands = {d.id: d for d in s.scalars(select(Demand).where(Demand.kind == "property_tax"))}
        first = demands[records[0].target_id or ""]
        assert (first.amount, first.period, first.status) == (126000 + 2400, "2024-25/H1", "due")
        assert first.property_id == demands[records[1].target_id or ""].property_id  # one property, two arrears
        number = first.number
    assert number.startswith(f"KL-{body.split('.')[1].replace('-', '').upper()[:10]}-PT-2024-25-")

    local_gateway(runtime).http = client  # the gateway's callbacks reach this app in-process
    clerk = people.headers("a_counter_clerk")
    seen = client.get(f"/api/v1/demands/{number}", headers=clerk).json()
    assert seen["amount_due_today"] == 128400
    started = client.post(f"/api/v1/demands/{number}/payments", json={"method": "gateway"}, headers=clerk)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["amount"] == 128400
    page = "/gateway/local/pay/" + payment["gateway_order_id"]
    assert client.post(page, data={"outcome": "paid", "method": "upi"}, follow_redirects=False).status_code == 303
    assert Worker(runtime.db).run_until_idle() >= 1  # the gateway's callback, delivered
    after = client.get(f"/api/v1/payments/{payment['id']}", headers=clerk).json()
    assert after["status"] == "succeeded" and len(after["receipts"]) == 1
    assert client.get(f"/api/v1/demands/{number}", headers=clerk).json()["status"] == "paid"


def test_a_migrated_birth_is_issued_as_a_credential_the_independent_verifier_accepts(
    client: TestClient, people: People, runtime: Runtime, tmp_path: Path
) -> None:
    rows, _ = messy_births(12)
    for row in rows:
        row["LB_CODE"] = LGD[people.body_a]
    path = write_csv(tmp_path / "births.csv", BIRTH_COLUMNS, rows)
    service.run(runtime, load_mapping(BIRTHS), open_source(path))
    with runtime.db.unit_of_work() as s:
        record = s.scalars(select(MigrationRecord).where(MigrationRecord.source_row == 2)).one()
        assert record.local_body_code == people.body_a
        legacy = record.legacy_number or ""
        secretary = s.get(User, people.users["a_secretary"].id)
        assert secretary is not None
        principal = load_principal(s, secretary, "bearer")
        app, cert = records.issue_certificate(s, principal, people.body_a, "births", legacy)
        number, cert_number = app.number, cert.number
    with runtime.db.unit_of_work() as s:  # asked again: the same case and certificate
        secretary = s.get(User, people.users["a_secretary"].id)
        assert secretary is not None
        again = records.issue_certificate(s, load_principal(s, secretary, "bearer"), people.body_a, "births", legacy)
        assert (again[0].number, again[1].number) == (number, cert_number)
        clerk = s.get(User, people.users["b_secretary"].id)
        assert clerk is not None
        with pytest.raises(Forbidden):  # another body's secretary issues nothing here
            records.issue_certificate(s, load_principal(s, clerk, "bearer"), people.body_a, "births", legacy)

    vc = credential(client, people, "a_secretary", number)
    fields = {f["code"]: f["value"] for f in vc["credentialSubject"]["record"]}
    assert fields["migrated_from"] == f"kl-sevana-births, {legacy}, 1990-01-01"
    assert fields["child_name"] == "Child 0"
    assert fields["date_of_birth"] == "1989-01-01"
    did = client.get("/.well-known/did.json").json()
    assert digital_bazaar_verify([vc], did, tmp_path) == [{"verified": True, "error": None}]


def test_a_migrated_trade_licence_keeps_its_number_and_validity_and_is_renewed_like_any_other(
    client: TestClient, people: People, runtime: Runtime, tmp_path: Path
) -> None:
    today = utcnow().date()
    issued, expires = today - timedelta(days=345), today + timedelta(days=20)  # due: inside the 30-day window
    row = {
        "LB_CODE": LGD[people.body_a],
        "LICENCE_NO": " tl/2019/0042 ",
        "ISSUE_DATE": issued.strftime("%d/%m/%Y"),
        "VALID_UPTO": expires.strftime("%d/%m/%Y"),
        "TRADE_NAME": "Sree Bakery",
        "LICENSEE": "Mary",
        "CATEGORY": "M",
        "FEE": "500",
    }
    path = write_csv(tmp_path / "licences.csv", TRADE_COLUMNS, [row])
    outcome = service.run(runtime, load_mapping(TRADE), open_source(path))
    assert service.totals(outcome.tally.groups)["imported"] == 1
    with runtime.db.unit_of_work() as s:
        secretary = s.get(User, people.users["a_secretary"].id)
        assert secretary is not None
        app, cert = records.issue_certificate(
            s, load_principal(s, secretary, "bearer"), people.body_a, "trade-licences", "tl/2019/0042"
        )
        first = app.number
        assert cert.number == "TL/2019/0042"  # the legacy number, as a renewal names it
    licence = certificate(client, people, "a_secretary", first)
    assert licence["valid_from"][:10] == issued.isoformat()
    assert licence["valid_until"][:10] == (expires + timedelta(days=1)).isoformat()  # through its last valid day

    renewal = _to_approval(
        client,
        people,
        "trade-licence-renewal",
        {
            "licence_number": "TL/2019/0042",
            "trade_name": "Sree Bakery",
            "licence_valid_until": expires.isoformat(),
            "sector": "manufacturing",
            "capital_investment": 600000,
            "changes_since_last": False,
        },
    )
    renewed = certificate(client, people, "citizen1", renewal["number"])
    assert renewed["number"] == "TL/2019/0042" and renewed["edition"] == 2
    assert renewed["valid_from"] == licence["valid_until"]  # the new year starts where the legacy one ends
    assert [e["status"] for e in renewed["editions"]] == ["active", "superseded"]
    fields = {
        f["code"]: f["value"] for f in credential(client, people, "citizen1", renewal["number"])["credentialSubject"]["record"]
    }
    assert fields["migrated_from"].startswith("kl-sanchaya-trade-licences, tl/2019/0042")  # still says where it came from
    assert fields["trade_name"] == "Sree Bakery"

    with runtime.db.unit_of_work() as s:  # asked again: the same licence, not a second one with the same number
        secretary = s.get(User, people.users["a_secretary"].id)
        assert secretary is not None
        again, _ = records.issue_certificate(
            s, load_principal(s, secretary, "bearer"), people.body_a, "trade-licences", "tl/2019/0042"
        )
        assert again.number == first

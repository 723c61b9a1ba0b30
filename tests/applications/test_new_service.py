"""A new service is one YAML file in a pack: no code changes, applied for and decided through the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nagara.runtime import Runtime
from nagara.tenancy.packs import InvalidPack, read_pack
from nagara.tenancy.service import load_pack
from tests.applications.helpers import act, apply, fetch
from tests.conftest import PACKS, People

PET_LICENCE = """
code: pet-licence
short: PL
name: {ml: വളർത്തുമൃഗ ലൈസൻസ്, en: Pet licence, kn: ಸಾಕುಪ್ರಾಣಿ ಪರವಾನಗಿ, hi: पालतू पशु लाइसेंस}
description: {ml: നായയ്ക്കും പൂച്ചയ്ക്കും ലൈസൻസ്, en: Licence for a dog or a cat, kn: ನಾಯಿ ಅಥವಾ ಬೆಕ್ಕಿಗೆ ಪರವಾನಗಿ, hi: कुत्ते या बिल्ली का लाइसेंस}
category: licences
offered_by: [corporation, municipality, grama_panchayat]
form:
  schema:
    type: object
    required: [animal, name, vaccinated]
    additionalProperties: false
    properties:
      animal: {type: string, enum: [dog, cat]}
      name: {type: string, minLength: 1}
      vaccinated: {type: boolean}
      count: {type: integer, minimum: 1, maximum: 5}
fees:
  items:
    - {code: licence, name: {ml: ലൈസൻസ് ഫീസ്, en: Licence fee, kn: ಪರವಾನಗಿ ಶುಲ್ಕ, hi: लाइसेंस शुल्क}, kind: per_unit, field: count, rate: 5000, minimum: 5000}
  exemptions:
    - when: [{field: animal, op: eq, value: cat}]
      waives: [licence]
      reason: {ml: പൂച്ചകൾക്ക് സൗജന്യം, en: Free for cats, kn: ಬೆಕ್ಕುಗಳಿಗೆ ಉಚಿತ, hi: बिल्लियों के लिए निःशुल्क}
workflow:
  start: check
  sla_days: 5
  designated_officer: secretary
  states:
    check: {name: {ml: പരിശോധന, en: Check, kn: ಪರಿಶೀಲನೆ, hi: जाँच}, role: counter_clerk, sla_days: 2, escalate_to: secretary}
    granted: {name: {ml: അനുവദിച്ചു, en: Granted, kn: ನೀಡಲಾಗಿದೆ, hi: दिया गया}, final: true, outcome: approved}
    refused: {name: {ml: നിരസിച്ചു, en: Refused, kn: ನಿರಾಕರಿಸಲಾಗಿದೆ, hi: अस्वीकृत}, final: true, outcome: rejected}
  actions:
    - {code: grant, name: {ml: അനുവദിക്കുക, en: Grant, kn: ನೀಡಿ, hi: दें}, from: [check], to: granted, roles: [counter_clerk], guards: [fee_paid]}
    - {code: refuse, name: {ml: നിരസിക്കുക, en: Refuse, kn: ನಿರಾಕರಿಸಿ, hi: अस्वीकार करें}, from: [check], to: refused, roles: [counter_clerk], comment_required: true}
output: {type: pet-licence, validity_days: 365}
"""

# Its output type is new, so the pack gains its template: a service issues nothing without one.
PET_LICENCE_TEMPLATE = """
type: pet-licence
number_prefix: PET
title: {ml: വളർത്തുമൃഗ ലൈസൻസ്, en: Pet licence, kn: ಸಾಕುಪ್ರಾಣಿ ಪರವಾನಗಿ, hi: पालतू पशु लाइसेंस}
statement:
  ml: താഴെ പറയുന്ന വളർത്തുമൃഗത്തിന് ലൈസൻസ് നൽകിയിരിക്കുന്നു.
  en: A licence is granted for the pet described below.
  kn: ಕೆಳಗೆ ವಿವರಿಸಿದ ಸಾಕುಪ್ರಾಣಿಗೆ ಪರವಾನಗಿ ನೀಡಲಾಗಿದೆ.
  hi: नीचे वर्णित पालतू पशु के लिए लाइसेंस दिया जाता है।
number_label: {ml: ലൈസൻസ് നമ്പർ, en: Licence number, kn: ಪರವಾನಗಿ ಸಂಖ್ಯೆ, hi: लाइसेंस संख्या}
fields:
  - {field: name, label: {ml: പേര്, en: Name of the pet, kn: ಹೆಸರು, hi: नाम}}
  - {field: animal, label: {ml: മൃഗം, en: Animal, kn: ಪ್ರಾಣಿ, hi: पशु}}
signatory: {ml: സെക്രട്ടറി, en: Secretary, kn: ಕಾರ್ಯದರ್ಶಿ, hi: सचिव}
seal: {ml: സെക്രട്ടറിയുടെ ഓഫീസ് മുദ്ര, en: Office seal of the Secretary, kn: ಕಾರ್ಯದರ್ಶಿಯವರ ಕಚೇರಿ ಮುದ್ರೆ, hi: सचिव के कार्यालय की मुहर}
"""


def load_with_pet_licence(runtime: Runtime, tmp_path: Path) -> None:
    pack_dir = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", pack_dir)
    (pack_dir / "services" / "pet-licence.yaml").write_text(PET_LICENCE, encoding="utf-8")
    (pack_dir / "certificates" / "pet-licence.yaml").write_text(PET_LICENCE_TEMPLATE, encoding="utf-8")
    with runtime.db.unit_of_work() as s:
        load_pack(s, read_pack(pack_dir))


def test_a_service_added_as_one_file_is_applied_for_and_decided(
    client: TestClient, people: People, runtime: Runtime, tmp_path: Path
) -> None:
    assert client.get(f"/api/v1/tenants/{people.body_a}/services/pet-licence").status_code == 404
    load_with_pet_licence(runtime, tmp_path)
    listed = client.get(f"/api/v1/tenants/{people.body_a}/services/pet-licence").json()
    assert listed["sla_days"] == 5
    assert listed["form"]["schema"]["required"] == ["animal", "name", "vaccinated"]

    dog = apply(
        client,
        people,
        "citizen1",
        people.body_a,
        "pet-licence",
        {"animal": "dog", "name": "Tommy", "vaccinated": True, "count": 2},
    )
    assert "-PL-" in dog["number"]
    assert dog["fee_total"] == 10000  # Rs 50 a dog, two dogs
    assert dog["assigned_to"] == people.users["a_counter_clerk"].id
    unpaid = act(client, people, "a_counter_clerk", dog, "grant", status=409)
    assert "not paid" in unpaid["detail"]
    # the fee is taken as a counter payment with a receipt (issue 6): no workflow action records it
    clerk = people.headers("a_counter_clerk")
    (demand,) = client.get("/api/v1/demands", params={"application": dog["number"]}, headers=clerk).json()
    paid = client.post(
        f"/api/v1/demands/{demand['number']}/counter-payments", json={"method": "cash", "amount": 10000}, headers=clerk
    )
    assert paid.status_code == 201, paid.text
    dog = fetch(client, people, "a_counter_clerk", dog["number"])
    assert dog["fee_paid"] is True
    dog = act(client, people, "a_counter_clerk", dog, "grant")
    assert dog["outcome"] == "approved"

    cat = apply(client, people, "citizen1", people.body_a, "pet-licence", {"animal": "cat", "name": "Mittu", "vaccinated": True})
    assert cat["fee_total"] == 0
    assert cat["fee_lines"][0]["waived_by"]["en"] == "Free for cats"
    cat = act(client, people, "a_counter_clerk", cat, "grant")
    assert fetch(client, people, "citizen1", cat["number"])["state"] == "granted"


def test_a_broken_service_file_is_refused_with_its_path(tmp_path: Path) -> None:

    pack_dir = tmp_path / "kl"
    shutil.copytree(PACKS / "kl", pack_dir)
    broken = PET_LICENCE.replace("to: granted, roles: [counter_clerk]", "to: granted, roles: [mayor]").replace(
        "field: count", "field: dogs"
    )
    (pack_dir / "services" / "pet-licence.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(InvalidPack) as caught:
        read_pack(pack_dir)
    found = {(e.file, e.path): e.message for e in caught.value.errors}
    assert "role 'mayor' is not in roles.yaml" in found[("services/pet-licence.yaml", "workflow.actions[0].roles[0]")]
    assert "field 'dogs' is not in the form" in found[("services/pet-licence.yaml", "fees.items[0].field")]

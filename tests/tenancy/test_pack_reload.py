"""A pack loaded from another folder, changed and loaded again on a running node (issue 13).

The loaded pack is all a service uses: its certificate is printed from the template loaded with
the service version, not from NAGARA_PACKS_DIR; a service the pack loses stops being offered,
while applications already made under it go on; pack-status says what is loaded and what differs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.catalog.definitions import Service
from nagara.catalog.models import ServiceVersion
from nagara.certificates import service as certificates
from nagara.cli import _load_packs
from nagara.kit.errors import Conflict
from nagara.tenancy.context import invalidate
from nagara.tenancy.packs import InvalidPack, read_pack
from nagara.tenancy.service import load_pack
from nagara.web.i18n import translations
from tests.applications.helpers import act, apply
from tests.certificates.helpers import certificate, credential
from tests.conftest import PACKS, People
from tests.officer.helpers import sign_in

DOG = Path(__file__).parent / "dog-licence"
FORM = {"owner_name": "Lakshmi Menon", "dog_name": "Bruno", "breed": "Rajapalayam", "ward": 12}


def _copy(tmp_path: Path) -> Path:
    """The Kerala pack in a folder of its own (NAGARA_PACKS_DIR stays the shipped packs), with the dog licence."""
    pack = tmp_path / "elsewhere" / "kl"
    shutil.copytree(PACKS / "kl", pack)
    shutil.copy(DOG / "services" / "dog-licence.yaml", pack / "services")
    shutil.copy(DOG / "certificates" / "dog-licence.yaml", pack / "certificates")
    return pack


def _status(client: TestClient, people: People) -> dict[str, Any]:
    response = client.get("/api/v1/states/kl/pack-status", headers=people.headers("kl_admin"))
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def _pdf_text(client: TestClient, people: People, number: str, tmp: Path) -> str:
    response = client.get(f"/api/v1/applications/{number}/certificate.pdf", headers=people.headers("citizen1"))
    assert response.status_code == 200, response.text
    (tmp / "c.pdf").write_bytes(response.content)
    return subprocess.run(["pdftotext", str(tmp / "c.pdf"), "-"], capture_output=True, text=True, check=True).stdout


def _submitted(client: TestClient, people: People) -> dict[str, Any]:
    return apply(client, people, "citizen1", people.body_a, "dog-licence", FORM)


def _approved(client: TestClient, people: People, app: dict[str, Any]) -> dict[str, Any]:
    app = act(client, people, "a_section_clerk", app, "forward")
    return act(client, people, "a_secretary", app, "approve")


def test_a_service_added_in_another_folder_is_certified_with_its_own_template_then_withdrawn(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    pack = _copy(tmp_path)
    before = _status(client, people)
    _load_packs(people.runtime, [pack])  # what `nagara pack load <folder>` does

    # Offered, and printed from its own template although NAGARA_PACKS_DIR has none for it.
    codes = [s["code"] for s in client.get(f"/api/v1/tenants/{people.body_a}/services").json()]
    assert "dog-licence" in codes
    done = _approved(client, people, _submitted(client, people))
    assert done["state"] == "approved", done
    cert = certificate(client, people, "citizen1", done["number"])
    assert "-DL-" in cert["number"], cert["number"]  # the template's register, not the generic certificate's C
    record = {f["code"]: f["value"] for f in credential(client, people, "citizen1", done["number"])["credentialSubject"]["record"]}
    assert record == {"owner_name": "Lakshmi Menon", "dog_name": "Bruno", "breed": "Rajapalayam", "ward": "12"}
    text = _pdf_text(client, people, done["number"], tmp_path)
    for words in ("Dog licence", "Name of the owner", "Lakshmi Menon", "Name of the dog", "Bruno", "Rajapalayam"):
        assert words in text, words

    # The folder loaded is not NAGARA_PACKS_DIR's: pack-status compares the latter and says what a load of it would do.
    loaded = _status(client, people)
    assert loaded["loaded_from"] == str(pack.resolve())
    assert loaded["loaded_at"] != before["loaded_at"]
    assert loaded["in_sync"] is False
    assert loaded["services"] == {"added": [], "removed": ["dog-licence"], "changed": [], "withdrawn": []}

    # An application made before the service is withdrawn ...
    in_flight = _submitted(client, people)
    (pack / "services" / "dog-licence.yaml").unlink()
    (pack / "certificates" / "dog-licence.yaml").unlink()
    _load_packs(people.runtime, [pack])

    # ... the service is no longer offered anywhere: list, page, form, API.
    codes = [s["code"] for s in client.get(f"/api/v1/tenants/{people.body_a}/services").json()]
    assert "dog-licence" not in codes
    response = client.get(f"/api/v1/tenants/{people.body_a}/services/dog-licence")
    assert response.status_code == 404 and "withdrawn" in response.json()["detail"], response.text
    assert client.get(f"/services/{people.body_a}/dog-licence").status_code == 404
    response = client.post(
        f"/api/v1/tenants/{people.body_a}/applications",
        json={"service": "dog-licence", "data": FORM, "submit": True},
        headers=people.headers("citizen1"),
    )
    assert response.status_code == 404 and "withdrawn from the kl pack" in response.json()["detail"], response.text

    # The copy is the shipped pack again: in sync, with the shipped count, and the withdrawal said.
    status = _status(client, people)
    assert status["in_sync"] is True and status["valid"] is True
    assert status["counts"]["services"] == len(list((PACKS / "kl" / "services").glob("*.yaml")))
    assert status["services"] == {"added": [], "removed": [], "changed": [], "withdrawn": ["dog-licence"]}
    assert status["loaded_at"] != loaded["loaded_at"]

    # ... and the application made before goes on to its own certificate.
    finished = _approved(client, people, in_flight)
    assert finished["state"] == "approved", finished
    assert "-DL-" in certificate(client, people, "citizen1", finished["number"])["number"]
    assert "Bruno" in _pdf_text(client, people, finished["number"], tmp_path)


def test_a_service_removed_from_the_pack_stops_being_offered_and_status_says_so(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    pack = _copy(tmp_path)
    people.runtime.settings = people.runtime.settings.model_copy(update={"packs_dir": pack.parent})
    _load_packs(people.runtime, [pack])
    in_flight = _submitted(client, people)
    (pack / "services" / "dog-licence.yaml").unlink()
    _load_packs(people.runtime, [pack])
    codes = [s["code"] for s in client.get(f"/api/v1/tenants/{people.body_a}/services").json()]
    assert "dog-licence" not in codes
    assert _approved(client, people, in_flight)["state"] == "approved"
    status = _status(client, people)
    assert status["in_sync"] is True and status["services"]["withdrawn"] == ["dog-licence"]
    sign_in(client, people, "kl_admin")
    page = client.get("/officer/admin/pack", headers={"Accept-Language": "ml"}).text
    withdrawn = translations("ml").gettext("Withdrawn: no longer offered; applications already made go on")
    assert withdrawn in page and withdrawn.startswith("പിൻവലിച്ചത്") and "<code>dog-licence</code>" in page


def test_loading_the_same_pack_again_changes_nothing(client: TestClient, people: People) -> None:
    before = _status(client, people)
    _load_packs(people.runtime, [PACKS / "kl"])
    after = _status(client, people)
    assert after["loaded_at"] == before["loaded_at"] and after["in_sync"] is True


def test_a_changed_template_is_a_new_version_and_old_applications_keep_theirs(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    pack = _copy(tmp_path)
    _load_packs(people.runtime, [pack])
    first = _submitted(client, people)
    template = pack / "certificates" / "dog-licence.yaml"
    template.write_text(template.read_text(encoding="utf-8").replace("number_prefix: DL", "number_prefix: DOG"), encoding="utf-8")
    # NAGARA_PACKS_DIR is the changed folder now: pack-status sees the change before it is loaded.
    people.runtime.settings = people.runtime.settings.model_copy(update={"packs_dir": pack.parent})
    assert _status(client, people)["services"]["changed"] == ["dog-licence"]
    _load_packs(people.runtime, [pack])
    assert _status(client, people)["in_sync"] is True
    second = _submitted(client, people)
    assert "-DL-" in certificate(client, people, "citizen1", _approved(client, people, first)["number"])["number"]
    assert "-DOG-" in certificate(client, people, "citizen1", _approved(client, people, second)["number"])["number"]


def test_an_output_type_without_its_template_fails_the_load_naming_service_type_and_file(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    (pack / "certificates" / "dog-licence.yaml").unlink()
    with pytest.raises(InvalidPack) as failed:
        read_pack(pack)  # the loader reads through it: nothing is written
    message = str(failed.value)
    assert "services/dog-licence.yaml: output.type" in message
    assert "'dog-licence'" in message and "certificates/dog-licence.yaml" in message


def test_the_generic_template_is_no_fallback(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    (pack / "certificates" / "dog-licence.yaml").unlink()
    assert (pack / "certificates" / "certificate.yaml").is_file()
    with pytest.raises(InvalidPack, match=r"certificates/dog-licence\.yaml"):
        read_pack(pack)


def test_a_version_without_a_stored_template_refuses_to_issue_until_the_pack_is_loaded(
    people: People, tmp_path: Path
) -> None:
    pack = read_pack(_copy(tmp_path))
    definition = pack.services["dog-licence"]
    legacy_digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()  # as then
    with people.runtime.db.unit_of_work() as session:
        # As a version loaded before templates were stored with it (revision catalog0002).
        row = ServiceVersion(
            state_code="kl", code="dog-licence", version=1, digest=legacy_digest, definition=definition, is_current=True
        )
        session.add(row)
        session.flush()
        invalidate(session, "kl")
        service = Service("kl", definition, row.id)
        with pytest.raises(Conflict, match="no stored certificate template for output type 'dog-licence'"):
            certificates._template(session, service, "dog-licence")

        load_pack(session, pack)  # the next load gives the version the template of its output type
        invalidate(session, "kl")
        template = certificates._template(session, service, "dog-licence")
        assert template.number_prefix == "DL"
        versions = list(session.scalars(select(ServiceVersion).where(ServiceVersion.code == "dog-licence")))
        assert [v.id for v in versions] == [row.id] and versions[0].is_current


"""Administration: the state's pack validated now, beside the version the database loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import PACKS, People


def test_the_shipped_pack_is_valid_and_loaded(client: TestClient, people: People) -> None:
    response = client.get("/api/v1/states/kl/pack-status", headers=people.headers("kl_admin"))
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["valid"] is True and status["in_sync"] is True and status["errors"] == []
    assert status["counts"]["services"] == len(list((PACKS / "kl" / "services").glob("*.yaml")))
    assert status["disk_digest"] == status["loaded_digest"]


def _copy_pack(people: People, tmp_path: Path) -> Path:
    target = tmp_path / "packs"
    shutil.copytree(PACKS / "kl", target / "kl")
    people.runtime.settings = people.runtime.settings.model_copy(update={"packs_dir": target})
    return target / "kl"


def test_a_broken_file_is_reported_with_its_path(client: TestClient, people: People, tmp_path: Path) -> None:
    pack = _copy_pack(people, tmp_path)
    roles = pack / "roles.yaml"
    roles.write_text(roles.read_text().replace("scope: local_body", "scope: everywhere", 1))
    status = client.get("/api/v1/states/kl/pack-status", headers=people.headers("kl_admin")).json()
    assert status["valid"] is False and status["in_sync"] is False
    assert any(e["file"] == "roles.yaml" and "scope" in e["path"] for e in status["errors"]), status["errors"]


def test_a_changed_but_valid_pack_is_out_of_sync(client: TestClient, people: People, tmp_path: Path) -> None:
    pack = _copy_pack(people, tmp_path)
    calendar = pack / "calendar.yaml"
    calendar.write_text(calendar.read_text() + "\n# edited after loading\n")
    status = client.get("/api/v1/states/kl/pack-status", headers=people.headers("kl_admin")).json()
    # the digest is of the files' bytes: the database still runs what was loaded before the edit
    assert status["valid"] is True and status["in_sync"] is False
    assert status["disk_digest"] != status["loaded_digest"]


def test_only_state_administrators_read_it(client: TestClient, people: People) -> None:
    for who in ("a_secretary", "kl_auditor", "ka_secretary", "citizen1"):
        assert client.get("/api/v1/states/kl/pack-status", headers=people.headers(who)).status_code == 403, who
    assert client.get("/api/v1/states/xx/pack-status", headers=people.headers("kl_admin")).status_code == 404

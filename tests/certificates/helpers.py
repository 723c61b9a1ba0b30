"""Steps shared by the certificate tests: carry an application to approval, read its certificate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from nagara.certificates import ld
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.conftest import People

JS_DIR = Path(__file__).parent / "js"


def approved_birth(client: TestClient, people: People, **changes: Any) -> dict[str, Any]:
    """A birth registration at body A, approved by its secretary: the certificate is issued."""
    app = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(**changes), submit=False)
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", app["number"], code)
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "submit")
    app = act(client, people, "a_section_clerk", app, "forward")
    return act(client, people, "a_secretary", app, "approve")


def certificate(client: TestClient, people: People, who: str, number: str, status: int = 200) -> dict[str, Any]:
    response = client.get(f"/api/v1/applications/{number}/certificate", headers=people.headers(who))
    assert response.status_code == status, response.text
    return response.json()


def credential(client: TestClient, people: People, who: str, number: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/applications/{number}/certificate/credential", headers=people.headers(who))
    assert response.status_code == 200, response.text
    value: dict[str, Any] = response.json()
    return value


def digital_bazaar_verify(credentials: list[dict[str, Any]], did_document: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    """Verify with @digitalbazaar/vc and the eddsa-rdfc-2022 cryptosuite (tests/certificates/js, installed by make)."""
    if not (JS_DIR / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, capture_output=True)
    path = tmp / "verify-input.json"
    path.write_text(
        json.dumps(
            {
                "credentials": credentials,
                "didDocument": did_document,
                "contexts": {ld.NAGARA_V1: str(ld.CONTEXT_DIR / ld.CONTEXT_FILES[ld.NAGARA_V1])},
            }
        )
    )
    done = subprocess.run(
        ["node", str(JS_DIR / "verify.mjs"), str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results

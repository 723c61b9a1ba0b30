"""Bidirectional controls in names and free text are removed when they come in (issue 12, finding 10):
a name cannot print reversed or reordered on an officer's page or a certificate."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from nagara.kit.text import BIDI_CONTROLS, strip_bidi
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.certificates.helpers import approved_birth
from tests.conftest import People
from tests.officer.helpers import sign_in

RLO, PDF_, LRI, PDI, RLM = "\u202e", "\u202c", "\u2066", "\u2069", "\u200f"
CONTROLS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_every_control_is_stripped() -> None:
    assert strip_bidi(f"A{CONTROLS}nna") == "Anna"
    assert all(BIDI_CONTROLS.match(c) for c in CONTROLS)
    assert strip_bidi("ആൻ മേരി") == "ആൻ മേരി"  # letters and their combining signs stay


def test_names_lose_bidi_controls_on_the_officer_page_and_the_certificate(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    app = approved_birth(client, people, child_name=f"{RLO}annA{PDF_} Joseph", mother_name=f"{LRI}Mary{PDI}{RLM}")
    response = client.patch("/api/v1/me", json={"name": f"Sec{RLO}terces"}, headers=people.headers("a_secretary"))
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Secterces"

    sign_in(client, people, "a_secretary")
    html = client.get(f"/officer/applications/{app['number']}").text
    assert "annA Joseph" in html
    assert not BIDI_CONTROLS.search(html)
    assert not re.search(r"&#(8206|8207|82(3[4-8])|82(9[4-7]));|&#x(200[ef]|202[a-e]|206[6-9]);", html, re.IGNORECASE)

    pdf = client.get(f"/api/v1/applications/{app['number']}/certificate.pdf", headers=people.headers("citizen1"))
    assert pdf.status_code == 200, pdf.text
    (tmp_path / "c.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert "annA Joseph" in text
    assert "Mary" in text
    assert not BIDI_CONTROLS.search(text)


def test_a_comment_loses_them_too(client: TestClient, people: People) -> None:
    app = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", app["number"], code)
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", app["number"]), "submit")
    act(client, people, "a_section_clerk", app, "forward", comment=f"checked{RLO}dekcehc")
    seen = client.get(f"/api/v1/applications/{app['number']}", headers=people.headers("a_secretary")).text
    assert "checkeddekcehc" in seen
    assert not BIDI_CONTROLS.search(seen.encode().decode("unicode_escape"))

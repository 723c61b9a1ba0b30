"""The acknowledgement slip (page and PDF) and the public status page by number and status code."""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from pathlib import Path

import pdfplumber
from fastapi.testclient import TestClient

from nagara.app import create_app
from nagara.applications.acknowledgement import font_faces, status_code
from nagara.identity import service as identity
from nagara.kit.settings import Settings
from nagara.runtime import build_runtime
from nagara.tenancy.packs import read_pack
from nagara.tenancy.service import load_pack
from tests.applications.helpers import apply, birth_form, upload
from tests.conftest import PACKS, DatabaseFactory, make_citizen


def _signed_in_pages(client: TestClient, people) -> None:
    with people.runtime.db.unit_of_work() as s:
        raw = identity.issue_token(s, s.get(type(people.users["citizen1"]), people.users["citizen1"].id), "session")
    client.cookies.set(people.runtime.settings.session_cookie, raw)


def _submitted_birth(client: TestClient, people) -> dict:
    draft = apply(
        client, people, "citizen1", people.body_a, "birth-registration", birth_form(child_name="Devika Unique"), submit=False
    )
    upload(client, people, "citizen1", draft["number"], "birth-report", name="hospital-report.pdf")
    upload(client, people, "citizen1", draft["number"], "parent-id", name="mother-aadhaar.pdf")
    submitted = client.post(
        f"/api/v1/applications/{draft['number']}/actions",
        json={"action": "submit", "version": draft["version"], "comment": None},
        headers=people.headers("citizen1"),
    )
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


def test_the_acknowledgement_names_the_number_the_documents_and_the_decision_date(client, people):
    app = _submitted_birth(client, people)
    _signed_in_pages(client, people)
    track = client.get(f"/applications/{app['number']}")
    assert f'href="/applications/{app["number"]}/acknowledgement"' in track.text
    code = status_code(people.runtime.secret, app["number"])
    assert code in track.text
    page = client.get(f"/applications/{app['number']}/acknowledgement")
    assert page.status_code == 200
    text = page.text
    assert app["number"] in text
    assert "Hospital birth report" in text and "hospital-report.pdf" in text
    assert "mother-aadhaar.pdf" in text
    assert "To be decided by" in text
    assert "7 working days" in text  # the service's time limit (birth-registration: sla_days 7)
    assert code in text
    pdf = client.get(f"/applications/{app['number']}/acknowledgement.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
        printed = "\n".join(p.extract_text() or "" for p in doc.pages)
    assert app["number"] in printed
    assert code in printed
    assert "hospital-report.pdf" in printed


def test_the_acknowledgement_is_in_hindi_with_shaped_devanagari(client, people):
    app = _submitted_birth(client, people)
    _signed_in_pages(client, people)
    page = client.get(f"/applications/{app['number']}/acknowledgement", headers={"Accept-Language": "hi"})
    assert "प्राप्त दस्तावेज़" in page.text
    pdf = client.get(f"/applications/{app['number']}/acknowledgement.pdf", headers={"Accept-Language": "hi"})
    with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
        fonts = {c["fontname"].split("+")[-1] for p in doc.pages for c in p.chars}
    assert "Noto-Sans-Devanagari" in fonts, fonts
    # From the package, so that a server without the system's Noto fonts prints Hindi as well.
    assert "NotoSansDevanagari-Regular.ttf" in font_faces()


def test_no_acknowledgement_before_submission_and_none_for_others(client, people):
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    _signed_in_pages(client, people)
    assert client.get(f"/applications/{draft['number']}/acknowledgement").status_code == 404
    app = _submitted_birth(client, people)
    with people.runtime.db.unit_of_work() as s:
        raw = identity.issue_token(s, s.get(type(people.users["citizen2"]), people.users["citizen2"].id), "session")
    client.cookies.set(people.runtime.settings.session_cookie, raw)
    assert client.get(f"/applications/{app['number']}/acknowledgement").status_code == 404


def _form_token(client: TestClient) -> str:
    page = client.get("/status")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_the_public_status_needs_the_code_and_shows_no_personal_data(client, people):
    app = _submitted_birth(client, people)
    code = status_code(people.runtime.secret, app["number"])
    token = _form_token(client)  # nobody signed in
    shown = client.post("/status", data={"csrf_token": token, "number": app["number"], "code": code.lower().replace("-", " ")})
    assert shown.status_code == 200, shown.text
    assert "Scrutiny" in shown.text and "Birth registration" in shown.text and "To be decided by" in shown.text
    for private in ("Devika Unique", "Mary", "SAT Hospital", "hospital-report.pdf", "mother-aadhaar.pdf"):
        assert private not in shown.text
    wrong = client.post("/status", data={"csrf_token": token, "number": app["number"], "code": "ABCD-EFGH"})
    assert wrong.status_code == 404
    assert "Devika" not in wrong.text and "Scrutiny" not in wrong.text
    other = client.post("/status", data={"csrf_token": token, "number": app["number"][:-1] + "9", "code": code})
    assert other.status_code == 404
    forged = client.post("/status", data={"csrf_token": "x", "number": app["number"], "code": code})
    assert forged.status_code == 403


def test_wrong_guesses_are_limited_per_address_under_parallel_requests(db_factory: DatabaseFactory, tmp_path: Path):
    """24 guesses at once with an allowance of 5, the right code among them: exactly 5 reach the
    check (the right one too, had it come after the allowance, is refused unchecked), then even
    the right code waits."""
    rt = build_runtime(
        Settings(
            env="test",
            database_url=db_factory.new_url(),
            var_dir=tmp_path,
            worker_embedded=False,
            status_lookups_per_address_per_hour=5,
        )
    )
    with rt.db.unit_of_work() as s:
        load_pack(s, read_pack(PACKS / "kl"))
        citizen = make_citizen(s, rt, "kl", "9847300009")
        bearer = identity.issue_token(s, citizen, "bearer")
    statuses: list[int] = []
    lock = threading.Lock()
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:
        made = client.post(
            "/api/v1/tenants/kl.tvm-corp/applications",
            json={
                "service": "birth-registration",
                "data": birth_form(place_of_birth="home", hospital_name=None),
                "submit": False,
            },
            headers={"Authorization": f"Bearer {bearer}"},
        ).json()
        upload_response = client.post(
            f"/api/v1/applications/{made['number']}/documents",
            data={"type": "parent-id"},
            files={"file": ("id.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b" " * 2000, "application/pdf")},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert upload_response.status_code == 201, upload_response.text
        submitted = client.post(
            f"/api/v1/applications/{made['number']}/actions",
            json={"action": "submit", "version": made["version"], "comment": None},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert submitted.status_code == 200, submitted.text
        token = _form_token(client)

        right_code = status_code(rt.secret, made["number"])

        def guess(i: int) -> None:
            code = right_code if i == 12 else f"WRNG-{i:04d}"
            r = client.post("/status", data={"csrf_token": token, "number": made["number"], "code": code})
            with lock:
                statuses.append(r.status_code)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        right = client.post(
            "/status", data={"csrf_token": token, "number": made["number"], "code": status_code(rt.secret, made["number"])}
        )
    rt.db.dispose()
    answered = Counter(statuses)
    assert answered[429] == 19 and answered[404] + answered[200] == 5, answered
    assert right.status_code == 429
    assert right.headers["retry-after"].isdigit()

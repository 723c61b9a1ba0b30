"""The public verification page, in a browser: upload the PDF, scan the QR, type the number; in Malayalam and English."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import zxingcpp
from PIL import Image

from nagara.certificates import verify
from nagara.identity.models import User
from tests.browser import LiveServer, axe_check
from tests.certificates.helpers import approved_birth
from tests.conftest import People, make_citizen, make_officer


def _people(live: LiveServer, client: httpx.Client) -> People:
    """Officers of the Thiruvananthapuram corporation and a citizen, in the live server's database (made once)."""
    body = "kl.tvm-corp"
    users: dict[str, User] = {}
    with live.runtime.db.unit_of_work() as s:
        for role in ("secretary", "section_clerk"):
            name = f"verify.{role}"
            existing = s.query(User).filter(User.username == name).one_or_none()
            users[f"a_{role}"] = existing or make_officer(s, name, role, "kl", body)
        users["citizen1"] = make_citizen(s, live.runtime, "kl", "9847009999")
        for user in users.values():
            s.expunge(user)
    return People(live.runtime, client, body, body, "ka", users)  # type: ignore[arg-type]


def _issued(live: LiveServer, client: httpx.Client) -> tuple[dict[str, Any], bytes, People]:
    people = _people(live, client)
    app = approved_birth(client, people, child_name="ആൻ മേരി")  # type: ignore[arg-type]
    pdf = client.get(f"/api/v1/applications/{app['number']}/certificate.pdf", headers=people.headers("citizen1")).content
    return app, pdf, people


def test_upload_the_pdf_scan_the_qr_type_the_number(new_page: Any, live_server: LiveServer, shot: Any, tmp_path: Path) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        _check_the_page(new_page, live_server, shot, tmp_path, client)


def _check_the_page(new_page: Any, live_server: LiveServer, shot: Any, tmp_path: Path, client: httpx.Client) -> None:
    app, pdf, people = _issued(live_server, client)
    (tmp_path / "certificate.pdf").write_bytes(pdf)
    page = new_page("ml")
    page.goto("/verify")
    axe_check(page)
    assert page.locator("h1").inner_text() == "സർട്ടിഫിക്കറ്റ് പരിശോധിക്കുക"
    page.set_input_files("#f-file", str(tmp_path / "certificate.pdf"))
    page.get_by_role("button", name="പരിശോധിക്കുക").click()
    page.wait_for_selector("#verdict")
    axe_check(page)
    shot(page, "verify-pdf-ml")
    assert page.locator("#verdict").inner_text() == "യഥാർത്ഥവും നിലവിലുള്ളതും"
    assert "ആൻ മേരി" in page.content()

    # a phone scanning the QR code opens /verify?c=...: the answer at once

    token = verify.compact_from_qr(_qr_of(pdf, tmp_path))
    english = new_page("en")
    english.goto(f"/verify?c={token}")
    assert english.locator("#verdict").inner_text() == "Genuine and current"
    axe_check(english)

    # revoked: the page says so for the number
    revoked = client.post(
        f"/api/v1/applications/{app['number']}/certificate/revoke",
        json={"reason": "issued on a forged report"},
        headers=people.headers("a_secretary"),
    )
    assert revoked.status_code == 200, revoked.text
    english.goto("/verify")
    english.get_by_label("Or the certificate's number").fill(revoked.json()["number"])
    english.get_by_role("button", name="Verify").click()
    english.wait_for_selector("#verdict")
    assert english.locator("#verdict").inner_text() == "Genuine, but revoked"
    assert "ആൻ" not in english.content()  # a number alone shows no personal data
    axe_check(english)
    shot(english, "verify-number-revoked-en")


def test_nothing_chosen_is_explained(page: Any) -> None:
    page.goto("/verify")
    page.get_by_role("button", name="Verify").click()
    assert "Choose the certificate's PDF" in page.locator(".error-summary").inner_text()
    axe_check(page)


def _qr_of(pdf: bytes, tmp: Path) -> str:

    (tmp / "q.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp / "q.pdf"), str(tmp / "q")], check=True)
    with Image.open(tmp / "q.png") as image:
        [found] = zxingcpp.read_barcodes(image)
    return str(found.text)

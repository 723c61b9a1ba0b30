"""An Urdu certificate (Jammu and Kashmir): laid out right to left in Noto Naskh Arabic, and its Urdu
text reads back from the PDF in the right order, letter for letter (pdftotext, as search, copy and
screen readers get it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from nagara.certificates import pdftext
from tests.applications.helpers import act, apply, fetch, upload
from tests.conftest import People, make_citizen, make_officer

JMC = "jk.jammu-corp"


def _urdu_birth_certificate(client: TestClient, people: People) -> bytes:
    form = {
        "child_name": "زینب",
        "sex": "female",
        "date_of_birth": "2026-11-20",
        "place_of_birth": "hospital",
        "hospital_name": "گورنمنٹ میڈیکل کالج ہسپتال، جموں",
        "mother_name": "شازیہ بانو",
        "father_name": "محمد اشرف",
        "address": "وارڈ نمبر 12، گاندھی نگر، جموں",
    }
    with people.runtime.db.unit_of_work() as s:
        people.users["jk_citizen"] = make_citizen(s, people.runtime, "jk", "9419000001")
        people.users["jk_clerk"] = make_officer(s, "jk.clerk", "section_clerk", "jk", JMC)
        people.users["jk_officer"] = make_officer(s, "jk.officer", "officer", "jk", JMC)
    svc = client.get(f"/api/v1/tenants/{JMC}/services/birth-registration").json()
    app = apply(client, people, "jk_citizen", JMC, "birth-registration", form, submit=False)
    for doc in svc["documents"]:
        upload(client, people, "jk_citizen", app["number"], doc["code"])
    app = act(client, people, "jk_citizen", fetch(client, people, "jk_citizen", app["number"]), "submit")
    app = act(client, people, "jk_clerk", app, "forward")
    app = act(client, people, "jk_officer", app, "approve")
    assert app["state"] == "approved"
    response = client.get(f"/api/v1/applications/{app['number']}/certificate.pdf", headers=people.headers("jk_citizen"))
    assert response.status_code == 200, response.text
    return response.content


def test_urdu_certificate_text_extracts_in_order(client: TestClient, people: People, tmp_path: Path) -> None:
    (tmp_path / "c.pdf").write_bytes(_urdu_birth_certificate(client, people))
    text = subprocess.run(["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    for words in (
        "پیدائشی سرٹیفکیٹ",  # the title
        "جموں میونسپل کارپوریشن",  # the body
        "جموں و کشمیر",  # the Union Territory
        "رجسٹرار پیدائش و اموات",  # the signatory
        "تصدیق کی جاتی ہے کہ درج ذیل معلومات",  # the statement
        "زینب",
        "شازیہ بانو",
        # Poppler splits a line at the Arabic comma into runs (a neutral between two right-to-left
        # runs), so the phrases around it are checked one by one
        "گورنمنٹ میڈیکل کالج ہسپتال",
        "Birth certificate",  # the English beside it
    ):
        assert words in text, (words, text)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "c.pdf")], capture_output=True, text=True, check=True).stdout
    assert "Nagara-Naskh-Arabic" in fonts  # the shipped Noto Naskh Arabic (its @font-face name), not a fallback


def test_right_to_left_lines_get_no_actual_text() -> None:
    """Poppler reorders right-to-left runs itself: a logical-order /ActualText came out reversed."""
    assert pdftext.RIGHT_TO_LEFT.search("جموں و کشمیر · Jammu and Kashmir")
    assert not pdftext.RIGHT_TO_LEFT.search("ಜನನ ಪ್ರಮಾಣಪತ್ರ ജനന सर्टिफिकेट Birth")

"""The PDF: A4, Malayalam and Kannada in its text layer, metadata without personal data, a QR code that scans and verifies."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pdfplumber
import pytest
import segno
import weasyprint
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter
from pypdf import PdfReader

from nagara.certificates import pdftext, verify
from tests.applications.helpers import act, apply, fetch, pay_at_counter, upload
from tests.certificates.helpers import approved_birth, credential
from tests.conftest import People, make_citizen, make_officer

A4 = (595.28, 841.89)


def _pdf(client: TestClient, people: People, who: str, number: str) -> bytes:
    response = client.get(f"/api/v1/applications/{number}/certificate.pdf", headers=people.headers(who))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def _squeezed(text: str) -> str:
    """Text without white space: text extraction splits Indic words where glyph runs break; the letters must be exact."""
    return "".join(text.split())


def _raster(pdf: bytes, tmp: Path, dpi: int) -> Image.Image:
    (tmp / "c.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(tmp / "c.pdf"), str(tmp / "page")], check=True)
    return Image.open(tmp / "page.png")


def test_malayalam_certificate_text_metadata_and_qr(client: TestClient, people: People, tmp_path: Path) -> None:
    app = approved_birth(client, people, child_name="ആൻ മേരി", mother_name="മേരി ജോസഫ്")
    pdf = _pdf(client, people, "citizen1", app["number"])
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 1
        page = doc.pages[0]
        assert (round(page.width, 1), round(page.height, 1)) == (round(A4[0], 1), round(A4[1], 1))
        text = page.extract_text()
    for words in ("ജനന സർട്ടിഫിക്കറ്റ്", "Birth certificate", "ആൻ മേരി", "മേരി ജോസഫ്", "സ്ത്രീ"):
        assert _squeezed(words) in _squeezed(text), (words, text)
    reader = PdfReader(io.BytesIO(pdf))
    meta = reader.metadata
    assert meta is not None
    assert meta.title is not None and meta.title.startswith("Birth certificate KL-")
    assert meta.author == client.get(f"/api/v1/local-bodies/{people.body_a}").json()["name"]["en"]
    every_meta = " ".join(str(v) for v in meta.values())
    assert "ആൻ" not in every_meta and "മേരി" not in every_meta and "Anna" not in every_meta
    # the credential rides in the PDF and is the one on record
    assert verify.credential_from_pdf(pdf) == credential(client, people, "citizen1", app["number"])
    # printed and photographed: rasterised at 150 dpi (a phone photo of a print is about that), the QR decodes
    image = _raster(pdf, tmp_path, 150)
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    content = found[0].text
    # and photographed (a phone photo of an A4 print is about 200 dpi): a little turned, out of focus, JPEG-compressed
    photo = _raster(pdf, tmp_path, 200).convert("L").rotate(4, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(1.0))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=55)
    [seen] = zxingcpp.read_barcodes(Image.open(io.BytesIO(buffer.getvalue())))
    assert seen.text == content
    assert content.startswith(f"{people.runtime.settings.base_url}/verify?c=")
    checked = client.post("/credentials/verify-document", data={"qr": content}).json()
    assert checked["verified"] is True and checked["status"] == "current", checked
    assert checked["certificate"]["number"] == meta.title.removeprefix("Birth certificate ")
    assert checked["ledger"]["pending"] == 1  # the issue entry, not yet integrated
    # offline: the compact form against the issuer's published keys, no database
    trust = verify.Trust()
    trust.add_jwks(client.get("/.well-known/jwks.json").json())
    offline = verify.verify_compact_form(verify.compact_from_qr(content), trust)
    assert offline.verified and offline.status == "current"
    assert ["child_name", "ആൻ മേരി"] in [list(f.values()) for f in offline.summary["record"]]
    assert segno.make(content, error="l").version <= 19  # coarse enough to read off paper with a phone
    header, payload, signature = verify.compact_from_qr(content).split(".")
    forged = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    assert not verify.verify_compact_form(f"{header}.{forged}.{signature}", trust).verified
    forged_check = client.post("/credentials/verify-document", data={"qr": f"{header}.{forged}.{signature}"}).json()
    assert forged_check["verified"] is False and forged_check["status"] == "invalid"


def _kannada_pdf(client: TestClient, people: People) -> bytes:
    """A birth certificate issued by the Karnataka body, in Kannada."""

    ka = people.body_ka
    form = {
        "child_name": "ಅನನ್ಯಾ",
        "sex": "female",
        "date_of_birth": "2026-01-05",
        "place_of_birth": "ಜಿಲ್ಲಾ ಆಸ್ಪತ್ರೆ, ಬೆಳಗಾವಿ",
        "registration_number": "REG-2026-0042",
        "mother_name": "ಲಕ್ಷ್ಮಿ",
        "applicant_relation": "parent",
        "purpose": "school",
        "additional_copies": 0,
    }

    with people.runtime.db.unit_of_work() as s:
        people.users["ka_citizen"] = make_citizen(s, people.runtime, "ka", "9900000001")
        people.users["ka_section_clerk"] = make_officer(s, "ka.clerk", "section_clerk", "ka", ka)
        people.users["ka_officer"] = make_officer(s, "ka.officer", "officer", "ka", ka)
        people.users["ka_counter_clerk"] = make_officer(s, "ka.counter", "counter_clerk", "ka", ka)
    svc = client.get(f"/api/v1/tenants/{ka}/services/birth-certificate").json()
    app = apply(client, people, "ka_citizen", ka, "birth-certificate", form, submit=False)
    for doc in svc["documents"]:
        if doc.get("required"):
            upload(client, people, "ka_citizen", app["number"], doc["code"])
    app = act(client, people, "ka_citizen", fetch(client, people, "ka_citizen", app["number"]), "submit")
    if app["fee_total"] and not app["fee_paid"]:
        app = pay_at_counter(client, people, "ka_counter_clerk", app["number"])
    app = act(client, people, "ka_section_clerk", app, "forward")
    app = act(client, people, "ka_officer", app, "approve")
    assert app["state"] == "approved"
    return _pdf(client, people, "ka_citizen", app["number"])


def test_kannada_certificate_text(client: TestClient, people: People) -> None:
    pdf = _kannada_pdf(client, people)
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        text = doc.pages[0].extract_text()
    for words in ("Birth certificate", "ಅನನ್ಯಾ", "ಲಕ್ಷ್ಮಿ", "ಜನನ"):
        assert _squeezed(words) in _squeezed(text), (words, text)


def test_a_phone_photo_of_the_qr_decodes_whatever_the_certificate_holds(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    """The QR's content changes with each certificate (its id, times, status-list position): a
    blurred photo of the print must decode for any of them, not only for one. With error
    correction M (smaller modules) about one in twenty did not: 3 of 17 in a probe, against none
    of 16 with L; a synthetic run gave 2 of 260 against 0 of 260."""
    for i in range(4):
        app = approved_birth(client, people, child_name=f"ആൻ മേരി {i}", mother_name="മേരി ജോസഫ്")
        photo = _raster(_pdf(client, people, "citizen1", app["number"]), tmp_path, 200)
        photo = photo.convert("L").rotate(4, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(1.0))
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=55)
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(buffer.getvalue())))
        assert len(found) == 1, f"certificate {i + 1}: {len(found)} codes decoded"


def _pdftotext(pdf: bytes, tmp: Path) -> str:
    """The text layer as poppler reads it: it honours the /ActualText spans (pdfplumber and pypdf read the glyphs)."""
    (tmp / "t.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", str(tmp / "t.pdf"), "-"], capture_output=True, text=True, check=True).stdout


def test_every_malayalam_word_extracts_exactly(client: TestClient, people: People, tmp_path: Path) -> None:
    """A glyph shared by two clusters (reordered vowel sign, conjunct) would extract as the wrong letters from
    WeasyPrint's one-string-per-glyph ToUnicode map; the /ActualText span on each line (certificates/pdftext.py)
    carries the exact text, so the words come out letter for letter, spaces and all."""
    app = approved_birth(client, people)
    text = _pdftotext(_pdf(client, people, "citizen1", app["number"]), tmp_path)
    for words in ("ജനന മരണ രജിസ്ട്രാർ", "ജനനങ്ങളുടെ മൂല രജിസ്റ്ററിൽ നിന്ന് എടുത്ത വിവരങ്ങളാണ്", "ജനന സർട്ടിഫിക്കറ്റ്"):
        assert words in text, (words, text)


def test_every_kannada_word_extracts_exactly(client: TestClient, people: People, tmp_path: Path) -> None:
    text = _pdftotext(_kannada_pdf(client, people), tmp_path)
    for words in ("ಜನನ ಪ್ರಮಾಣಪತ್ರ", "ಅನನ್ಯಾ", "ಲಕ್ಷ್ಮಿ", "ಜಿಲ್ಲಾ ಆಸ್ಪತ್ರೆ, ಬೆಳಗಾವಿ"):
        assert words in text, (words, text)


def test_actual_text_patch_refuses_other_weasyprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The patch reaches into WeasyPrint's drawing code: on a version it was not written for it fails loudly."""

    assert pdftext.actual_text("ജനന") == b"<FEFF0D1C0D280D28>"
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    with pytest.raises(pdftext.WeasyPrintChanged, match=r"not 71\.0"):
        pdftext.install()

"""Every shipped template is valid, covers every service output, and prints on one A4 page in both languages."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from nagara.certificates import render, templates
from nagara.tenancy.packs import read_pack
from tests.conftest import PACKS

LANGUAGES = {"kl": ["ml", "en"], "ka": ["kn", "en"]}
SAMPLE = {"ml": "ആൻ മേരി ജോസഫ് വർഗീസ്", "kn": "ಅನನ್ಯಾ ಲಕ್ಷ್ಮೀನಾರಾಯಣ", "en": "Sample value"}


def _cases() -> list[tuple[str, str]]:
    return [(state, name) for state in LANGUAGES for name in templates.pack_templates(PACKS / state, LANGUAGES[state])[0]]


def test_every_service_output_has_a_valid_template() -> None:
    for state, languages in LANGUAGES.items():
        found, errors = templates.pack_templates(PACKS / state, languages)
        assert errors == []
        pack = read_pack(PACKS / state)  # also runs templates.pack_problems
        outputs = {s["output"]["type"] for s in pack.services.values() if s.get("output")}
        assert outputs <= set(found), outputs - set(found)


@pytest.mark.parametrize(("state", "name"), _cases())
def test_prints_on_one_a4_page(state: str, name: str) -> None:
    lang = LANGUAGES[state][0]
    template = templates.pack_templates(PACKS / state, LANGUAGES[state])[0][name]
    d = template.definition
    record = [
        {
            "code": f["field"],
            "label": f.get("label") or {"en": f["field"], lang: f["field"]},
            "value": "x",
            "text": SAMPLE[lang] * 2,
        }
        for f in d["fields"]
    ]
    document = {
        "lang": lang,
        "number": f"{state.upper()}-LONGBODYNAME-{d['number_prefix']}-2026-000123",
        "edition": 2,
        "output_type": d["type"],
        "title": d["title"],
        "statement": d["statement"],
        "number_label": d.get("number_label") or {"en": "Number"},
        "legal_basis": d.get("legal_basis"),
        "note": d.get("note"),
        "record": record,
        "signatory": d["signatory"],
        "seal": d["seal"],
        "body_name": {"en": "Thiruvananthapuram Municipal Corporation", lang: SAMPLE[lang]},
        "state_name": {"en": "State", lang: SAMPLE[lang]},
        "issued_on": "01-12-2026",
        "valid_until": "30-11-2027",
        "application_number": "KL-TVMCORP-TL-2026-000123",
        "credential_id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "issuer": "did:web:kl.nagara.example",
        "verify_url": "https://kl.nagara.example/verify",
    }
    qr = render.qr_content(document["verify_url"], "e" * 560)  # as long as a real compact form
    pdf = render.render_pdf(document, {"id": document["credential_id"]}, qr)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, f"{state}/{name} does not fit on one page"
    assert [round(float(x)) for x in reader.pages[0].mediabox[2:]] == [595, 842]

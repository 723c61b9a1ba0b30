"""Certificate PDFs: the pack's template and the package's layout, by WeasyPrint, A4, with the QR code.

Fonts are the Noto files shipped in ``fonts/`` (SIL Open Font License, ``fonts/OFL.txt``),
loaded with ``@font-face``; HarfBuzz (through Pango) shapes Malayalam, Kannada, Devanagari and
Urdu (Noto Naskh Arabic, joined right to left; an Urdu certificate is laid out with ``dir="rtl"``). Nothing
is fetched: the URL fetcher serves the package's fonts and ``data:`` URIs only. The signed
credential is attached to the PDF as ``credential.json`` so the file verifies by itself;
the PDF's metadata names the certificate and the issuing body, never the person.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

from nagara.certificates import pdftext
from nagara.web.i18n import N_, translations

FONT_DIR = Path(__file__).parent / "fonts"
LAYOUT_DIR = Path(__file__).parent / "templates"
ATTACHMENT = "credential.json"
# The font family of each certificate language's script (family name -> the file stem in fonts/).
SCRIPT_FONTS = {"ml": "Malayalam", "kn": "Kannada", "hi": "Devanagari", "ur": "Naskh Arabic"}
FONT_STEMS = {
    "Malayalam": "NotoSansMalayalam",
    "Kannada": "NotoSansKannada",
    "Devanagari": "NotoSansDevanagari",
    "Naskh Arabic": "NotoNaskhArabic",
}
RTL_LANGUAGES = frozenset({"ur"})
# The layout's own words, printed in the state's language and English (catalog area "certificates").
WORDS = {
    "issued_on": N_("Date of issue"),
    "valid_until": N_("Valid until"),
    "no_end": N_("No end date"),
    "application": N_("Application number"),
    "signed": N_("Digitally signed by"),
    "scan": N_(
        "Scan the QR code, or enter the number at the address below, to check that the certificate is genuine and current."
    ),
    "number": N_("Number"),
    "credential": N_("Verifiable credential"),
    "edition": N_("edition"),
}


def words_in(language: str) -> dict[str, dict[str, str]]:
    """Each of the layout's words in English and in ``language``."""
    local = translations(language)
    return {key: {"en": text, language: local.gettext(text)} for key, text in WORDS.items()}


@dataclass(frozen=True)
class Rendering:
    pdf: bytes
    qr_content: str


def qr_content(verify_url: str, compact_form: str) -> str:
    """What the QR code holds: the verification page's address carrying the signed compact form."""
    return f"{verify_url}?c={quote(compact_form, safe='.-_')}"


def qr_svg_data_uri(content: str) -> str:
    # Error correction L: the fewest modules, so each is as large as the 44 mm square allows (version
    # 18 with the quiet zone is 97 modules, 0.45 mm each). With M (version 21) a blurred phone photo
    # of a print failed for about one certificate in twenty; at 38 mm with L it still failed now and
    # then in CI (tests/certificates/test_pdf.py photographs several): rastered at 200 dpi, one real
    # certificate decoded under a 1.0 px blur but only 3 times in 18 under 1.2 px, against 18 of 18 under
    # 1.2 px at the 44 mm size. 44 mm is what still leaves the longest template (Kerala's death
    # certificate) on one page (tests/certificates/test_templates.py). The signed compact form inside
    # carries its own integrity, and the quiet zone (4 modules) is kept.
    return str(segno.make(content, error="l", micro=False).svg_data_uri(border=4, dark="#000", light="#fff"))


@cache
def font_faces() -> str:
    faces = []
    for family, stem in (("Nagara Sans", "NotoSans"), *((f"Nagara {s}", FONT_STEMS[s]) for s in SCRIPT_FONTS.values())):
        for weight, style in (("normal", "Regular"), ("bold", "Bold")):
            path = FONT_DIR / f"{stem}-{style}.ttf"
            source = f'url("{path.as_uri()}") format("truetype")'
            faces.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; src: {source}; }}')
    return "\n".join(faces)


@cache
def _fetcher() -> Any:
    """Only the package's fonts and data: URIs; never the network."""
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it

    class PackageOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file://") and Path(url.removeprefix("file://")).resolve().parent != FONT_DIR.resolve():
                raise ValueError(f"certificates load nothing from {url}")
            return super().fetch(url, headers)

    return PackageOnly(allowed_protocols={"data", "file"}, fail_on_errors=True)


def _environment(layout: str | None) -> Any:
    env = Environment(loader=FileSystemLoader(LAYOUT_DIR), autoescape=select_autoescape(["html"]), auto_reload=False)
    return env.from_string(layout) if layout is not None else env.get_template("certificates/certificate.html")


def local_date(value: datetime | None, zone: str) -> str | None:
    return value.astimezone(ZoneInfo(zone)).strftime("%d-%m-%Y") if value else None


def render_pdf(document: dict[str, Any], credential: dict[str, Any], qr: str, *, layout: str | None = None) -> bytes:
    """The certificate as a PDF. ``document`` is the snapshot made at issue (see service.document_for)."""
    from weasyprint import HTML, Attachment  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it

    pdftext.install()  # exact Malayalam/Kannada text for extraction and screen readers
    lang = document["lang"]
    html = _environment(layout).render(
        **document,
        script=SCRIPT_FONTS.get(lang, "Malayalam"),
        direction="rtl" if lang in RTL_LANGUAGES else "ltr",
        font_faces=font_faces(),
        words=(words := words_in(lang)),
        edition_label=words["edition"][lang],
        qr_data_uri=qr_svg_data_uri(qr),
    )
    attachment = Attachment(
        string=json.dumps(credential, ensure_ascii=False, indent=1),
        name=ATTACHMENT,
        description="W3C Verifiable Credential (eddsa-rdfc-2022)",
        relationship="Data",
    )
    pdf: bytes = HTML(string=html, url_fetcher=_fetcher(), base_url=str(LAYOUT_DIR)).write_pdf(
        attachments=[attachment], pdf_identifier=document["credential_id"].encode()[-32:]
    )
    return pdf

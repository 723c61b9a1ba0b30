"""Certificate PDFs: the pack's template and the package's layout, by WeasyPrint, A4, with the QR code.

Fonts are the Noto files shipped in ``fonts/`` (SIL Open Font License, ``fonts/OFL.txt``),
loaded with ``@font-face``; HarfBuzz (through Pango) shapes Malayalam and Kannada. Nothing
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

FONT_DIR = Path(__file__).parent / "fonts"
LAYOUT_DIR = Path(__file__).parent / "templates"
ATTACHMENT = "credential.json"
SCRIPT_FONTS = {"ml": "Malayalam", "kn": "Kannada"}
WORDS: dict[str, dict[str, str]] = {
    "issued_on": {"en": "Date of issue", "ml": "നൽകിയ തീയതി", "kn": "ನೀಡಿದ ದಿನಾಂಕ"},
    "valid_until": {"en": "Valid until", "ml": "കാലാവധി", "kn": "ಮಾನ್ಯತೆ ಅವಧಿ"},
    "no_end": {"en": "No end date", "ml": "കാലാവധിയില്ല", "kn": "ಅವಧಿ ಮಿತಿ ಇಲ್ಲ"},
    "application": {"en": "Application number", "ml": "അപേക്ഷ നമ്പർ", "kn": "ಅರ್ಜಿ ಸಂಖ್ಯೆ"},
    "signed": {"en": "Digitally signed by", "ml": "ഡിജിറ്റലായി ഒപ്പുവെച്ചത്", "kn": "ಡಿಜಿಟಲ್ ಸಹಿ ಮಾಡಿದವರು"},
    "scan": {
        "en": "Scan the QR code, or enter the number at the address below, to check that the certificate is genuine and current.",
        "ml": "ഈ സർട്ടിഫിക്കറ്റ് യഥാർത്ഥവും നിലവിലുള്ളതുമാണോ എന്ന് പരിശോധിക്കാൻ QR കോഡ് സ്കാൻ ചെയ്യുക, അല്ലെങ്കിൽ താഴെയുള്ള വിലാസത്തിൽ നമ്പർ നൽകുക.",
        "kn": "ಈ ಪ್ರಮಾಣಪತ್ರ ನಿಜವಾದದ್ದು ಮತ್ತು ಚಾಲ್ತಿಯಲ್ಲಿದೆಯೇ ಎಂದು ಪರಿಶೀಲಿಸಲು QR ಕೋಡ್ ಸ್ಕ್ಯಾನ್ ಮಾಡಿ, ಅಥವಾ ಕೆಳಗಿನ ವಿಳಾಸದಲ್ಲಿ ಸಂಖ್ಯೆಯನ್ನು ನಮೂದಿಸಿ.",
    },
    "number": {"en": "Number", "ml": "നമ്പർ", "kn": "ಸಂಖ್ಯೆ"},
    "credential": {"en": "Verifiable credential", "ml": "പരിശോധിക്കാവുന്ന ക്രെഡൻഷ്യൽ", "kn": "ಪರಿಶೀಲಿಸಬಹುದಾದ ರುಜುವಾತು"},
}
EDITION = {"en": "edition", "ml": "പതിപ്പ്", "kn": "ಆವೃತ್ತಿ"}


@dataclass(frozen=True)
class Rendering:
    pdf: bytes
    qr_content: str


def qr_content(verify_url: str, compact_form: str) -> str:
    """What the QR code holds: the verification page's address carrying the signed compact form."""
    return f"{verify_url}?c={quote(compact_form, safe='.-_')}"


def qr_svg_data_uri(content: str) -> str:
    # Error correction M survives a crease or a smudge; the quiet zone (4 modules) is kept.
    return str(segno.make(content, error="m", micro=False).svg_data_uri(border=4, dark="#000", light="#fff"))


@cache
def font_faces() -> str:
    faces = []
    for family, stem in (("Nagara Sans", "NotoSans"), *((f"Nagara {s}", f"NotoSans{s}") for s in SCRIPT_FONTS.values())):
        for weight, style in (("normal", "Regular"), ("bold", "Bold")):
            path = FONT_DIR / f"{stem}-{style}.ttf"
            source = f'url("{path.as_uri()}") format("truetype")'
            faces.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; src: {source}; }}')
    return "\n".join(faces)


@cache
def _fetcher() -> Any:
    """Only the package's fonts and data: URIs; never the network."""
    from weasyprint.urls import URLFetcher

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
    from weasyprint import HTML, Attachment

    lang = document["lang"]
    html = _environment(layout).render(
        **document,
        script=SCRIPT_FONTS.get(lang, "Malayalam"),
        font_faces=font_faces(),
        words=WORDS,
        edition_label=EDITION.get(lang, EDITION["en"]),
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

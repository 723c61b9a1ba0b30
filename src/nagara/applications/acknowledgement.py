"""The acknowledgement slip of an application, its status code, and the public status lookup.

Right to Service Acts require an acknowledgement at submission: the application's number,
the documents received and the date by which the law says it will be decided
(``Application.service_due_at``, set by the workflow engine from the service's time limit
and the local body's working calendar). The slip is a page and a PDF (WeasyPrint, the Noto
fonts the certificates domain ships in ``certificates/fonts``, Devanagari and Naskh among them).

The slip prints a **status code**: an HMAC of the number under a key derived from the
secret key, eight letters. With the number it opens the public status page, which needs no
sign-in and shows no personal data. The number alone does not: numbers run in sequence, so
anyone could walk them. Lookups are limited per network address and hour (``kit.limits``; the
address is kept only as an HMAC): each lookup reserves a try before the code is checked, a
right one gives it back, and past ``status_lookups_per_address_per_hour`` the lookup answers
429, so parallel guesses beyond the allowance are never checked.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.applications import service
from nagara.applications.models import Application
from nagara.kit import limits
from nagara.kit.crypto import derive_key
from nagara.kit.errors import NotFound, TooManyRequests
from nagara.runtime import runtime_of
from nagara.tenancy.context import body_place, zone_of

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L or U: read aloud and typed from paper
CODE_LENGTH = 8
FONT_FILES = {
    "Noto Sans": "NotoSans",
    "Noto Sans Malayalam": "NotoSansMalayalam",
    "Noto Sans Kannada": "NotoSansKannada",
    "Noto Sans Devanagari": "NotoSansDevanagari",
    "Noto Naskh Arabic": "NotoNaskhArabic",  # Urdu, laid out right to left (dir="rtl")
}

# Run before WeasyPrint draws: the certificates domain registers its exact-text layer here
# (domains.wire), so that Indic text copies and reads as written. Applications cannot import it.
_before_pdf: list[Callable[[], None]] = []


def before_pdf(prepare: Callable[[], None]) -> None:
    if prepare not in _before_pdf:
        _before_pdf.append(prepare)


def status_code(secret: str, number: str) -> str:
    """The applicant's code for the public status of ``number``: ``XXXX-XXXX``."""
    digest = hmac.new(derive_key(secret, "application-status"), number.encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:8], "big")
    letters = []
    for _ in range(CODE_LENGTH):
        value, index = divmod(value, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return "".join(letters[:4]) + "-" + "".join(letters[4:])


def normalise_code(text: str) -> str:
    plain = "".join(c for c in text.upper() if c.isalnum())
    return plain[:4] + "-" + plain[4:] if len(plain) == CODE_LENGTH else plain


LOOKUP_WINDOW = timedelta(hours=1)


def _limit_key(secret: str, address: str | None) -> str:
    who = hmac.new(derive_key(secret, "status-lookups"), (address or "-").encode(), hashlib.sha256).hexdigest()[:32]
    return f"status:{who}"


def lookup(session: Session, *, number: str, code: str, address: str | None) -> Application:
    """The submitted application that ``number`` and its status code name, for the public status page.

    Anyone may ask. Each lookup first takes a try from the address's hourly allowance (one
    atomic upsert, committed although the lookup fails), so of parallel guesses at most the
    allowance reach the check; a right number and code give their try back.
    """
    runtime = runtime_of(session)
    limit = runtime.settings.status_lookups_per_address_per_hour
    key = _limit_key(runtime.secret, address)
    tried = limits.hit(session, key, window=LOOKUP_WINDOW)
    if tried.over(limit):
        raise TooManyRequests(
            f"too many wrong application numbers or codes; at most {limit} an hour",
            retry_after=tried.retry_after,
            keep_changes=True,
        )
    number = number.strip().upper()
    app = session.scalar(select(Application).where(Application.number == number)) if number else None
    if (
        app is not None
        and app.submitted_at is not None
        and hmac.compare_digest(status_code(runtime.secret, app.number), normalise_code(code))
    ):
        limits.give_back(session, key)
        return app
    raise NotFound("no submitted application has this number and status code", keep_changes=True)


@dataclass(frozen=True)
class Slip:
    """What the acknowledgement says, in plain values (the page and the PDF print the same)."""

    number: str
    service: dict[str, str]
    local_body: dict[str, str]
    legal_basis: str
    submitted_at: datetime
    decide_by: datetime | None
    sla_days: int
    documents: list[dict[str, Any]]
    fee_total: int
    status_code: str
    timezone: str


def slip(session: Session, app: Application) -> Slip:
    """The acknowledgement of a submitted application (the caller has checked who may see it)."""
    if app.submitted_at is None:
        raise NotFound(f"application {app.number} is not submitted yet: it has no acknowledgement")
    svc = service.service_for(session, app)
    names = {d["code"]: d["name"] for d in svc.definition.get("documents", [])}
    return Slip(
        number=app.number,
        service=svc.definition["name"],
        local_body=dict(body_place(session, app.local_body_code).body.name),
        timezone=zone_of(session, app.state_code).key,
        legal_basis=str(svc.definition.get("legal_basis", "")),
        submitted_at=app.submitted_at,
        decide_by=app.service_due_at,
        sla_days=int(svc.workflow["sla_days"]),
        documents=[
            {"name": names.get(d.doc_type, {"en": d.doc_type}), "filename": d.filename, "received_at": d.uploaded_at}
            for d in service.documents(session, app)
        ],
        fee_total=app.fee_total,
        status_code=status_code(runtime_of(session).secret, app.number),
    )


def fonts_dir() -> Path:
    return Path(str(resources.files("nagara") / "certificates" / "fonts"))


def font_faces() -> str:
    base = fonts_dir()
    faces = []
    for family, stem in FONT_FILES.items():
        for weight, style in (("normal", "Regular"), ("bold", "Bold")):
            path = base / f"{stem}-{style}.ttf"
            faces.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; src: url("{path.as_uri()}"); }}')
    return "\n".join(faces)


def render_pdf(html: str) -> bytes:
    """The slip's HTML as an A4 PDF; nothing is fetched but the package's fonts and data: URIs."""
    from weasyprint import HTML  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 - as above

    fonts = fonts_dir().resolve()

    class FontsOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file://") and Path(url.removeprefix("file://")).resolve().parent != fonts:
                raise ValueError(f"the acknowledgement loads nothing from {url}")
            return super().fetch(url, headers)

    for prepare in _before_pdf:
        prepare()
    fetcher = FontsOnly(allowed_protocols={"data", "file"}, fail_on_errors=True)
    pdf: bytes = HTML(string=html, url_fetcher=fetcher, base_url=str(fonts)).write_pdf()
    return pdf

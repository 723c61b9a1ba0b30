"""Receipts: issued in the local body's register when money arrives or goes back, read by those who
see the demand, and rendered as PDF (WeasyPrint) from one HTML template with a QR code of the number.

Receipt numbers run without gaps per local body and financial year (``KL-TVMCORP-R-2026-27-000001``,
refunds ``...-RF-...``): the number is taken in the writing transaction, just before the receipt's
row is inserted.

Text is English. The local body's name is also printed in the state's language when the Noto
fonts that shape Malayalam and Kannada are present (the certificates domain vendors them under
``nagara/certificates/fonts/``); otherwise only English is printed, never unshaped glyphs.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from nagara.certificates import pdftext
from nagara.kit import numbers
from nagara.kit.access import Principal
from nagara.kit.errors import NotFound
from nagara.payments import property_tax
from nagara.payments.models import Demand, Payment, Receipt
from nagara.payments.service import demand_visible
from nagara.tenancy import context as tenancy

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("nagara.payments", "templates"), autoescape=jinja2.select_autoescape(("html",))
)
FONT_FILES = {
    "Noto Sans": ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    "Noto Sans Malayalam": ("NotoSansMalayalam-Regular.ttf", "NotoSansMalayalam-Bold.ttf"),
    "Noto Sans Kannada": ("NotoSansKannada-Regular.ttf", "NotoSansKannada-Bold.ttf"),
}
SCRIPT_FONTS = {"ml": "Noto Sans Malayalam", "kn": "Noto Sans Kannada"}


# -- issuing and reading -------------------------------------------------------------------------


def issue(
    session: Session,
    payment: Payment,
    demand: Demand,
    *,
    kind: str,
    amount: int,
    lines: list[dict[str, Any]],
    day: date,
    now: datetime,
    refund_id: str | None = None,
) -> Receipt:
    """A receipt for money received (``payment``) or paid back (``refund``), numbered in the body's register."""
    fy = property_tax.financial_year(day)
    receipt = Receipt(
        number=numbers.next_number(session, demand.local_body_code, "R" if kind == "payment" else "RF", fy),
        kind=kind,
        local_body_code=demand.local_body_code,
        financial_year=fy,
        payment_id=payment.id,
        demand_id=demand.id,
        refund_id=refund_id,
        amount=amount,
        lines=lines,
        method=payment.method,
        issued_at=now,
        business_date=day,
    )
    session.add(receipt)
    session.flush()
    return receipt


def get_receipt(session: Session, principal: Principal, number: str) -> Receipt:
    receipt = session.scalar(
        select(Receipt).join(Demand, Demand.id == Receipt.demand_id).where(Receipt.number == number, demand_visible(principal))
    )
    if receipt is None:
        raise NotFound(f"no receipt {number!r} that you may see")
    return receipt


def receipts_of(session: Session, payment: Payment) -> list[Receipt]:
    return list(
        session.scalars(select(Receipt).where(Receipt.payment_id == payment.id).order_by(Receipt.issued_at, Receipt.number))
    )


def payment_receipts(session: Session, demand: Demand) -> list[Receipt]:
    """The receipts for money received against ``demand`` (not refunds), oldest first."""
    return list(
        session.scalars(
            select(Receipt).where(Receipt.demand_id == demand.id, Receipt.kind == "payment").order_by(Receipt.issued_at)
        )
    )


# -- the PDF -------------------------------------------------------------------------------------


def _fonts_dir() -> Path | None:
    try:
        found = Path(str(resources.files("nagara") / "certificates" / "fonts"))
    except (ModuleNotFoundError, TypeError):
        return None
    return found if found.is_dir() else None


def font_faces() -> list[dict[str, str]]:
    """The @font-face rules for the vendored fonts that are present."""
    base = _fonts_dir()
    faces = []
    for family, (regular, bold) in FONT_FILES.items():
        for weight, name in (("normal", regular), ("bold", bold)):
            if base is not None and (base / name).is_file():
                faces.append({"family": family, "weight": weight, "url": (base / name).as_uri()})
    return faces


def rupees(paise: int) -> str:
    sign = "-" if paise < 0 else ""
    whole, part = divmod(abs(paise), 100)
    digits = str(whole)
    if len(digits) > 3:  # Indian grouping: 12,34,567
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head, *groups]) + "," + tail if head else ",".join(groups) + "," + tail
    return f"{sign}Rs {digits}.{part:02d}"


def receipt_context(session: Session, receipt: Receipt) -> dict[str, Any]:
    place = tenancy.body_place(session, receipt.local_body_code)
    body, state = place.body, place.state
    demand = session.get(Demand, receipt.demand_id)
    payment = session.get(Payment, receipt.payment_id)
    faces = font_faces()
    families = {f["family"] for f in faces}
    local_name = None
    if body and state:
        language = next((lang for lang in state.languages if lang in SCRIPT_FONTS), None)
        if language and SCRIPT_FONTS[language] in families:
            local_name = body.name.get(language)
    qr = segno.make(f"{receipt.number}", error="m").svg_data_uri(scale=3, border=1)
    return {
        "receipt": receipt,
        "demand": demand,
        "payment": payment,
        "body_name": body.name.get("en", receipt.local_body_code) if body else receipt.local_body_code,
        "local_name": local_name,
        "state_name": state.name.get("en", "") if state else "",
        "faces": faces,
        "fonts": ", ".join(f'"{f}"' for f in ("Noto Sans", *SCRIPT_FONTS.values()) if f in families) or '"DejaVu Sans"',
        "rupees": rupees,
        "qr": qr,
    }


def render_html(session: Session, receipt: Receipt) -> str:
    return _ENV.get_template("payments/receipt.html").render(**receipt_context(session, receipt))


def render_pdf(session: Session, receipt: Receipt) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - WeasyPrint loads Pango at import: only processes that render PDFs pay for it

    pdftext.install()  # exact Malayalam/Kannada text for extraction, as on certificates
    pdf: bytes = HTML(string=render_html(session, receipt)).write_pdf()
    return pdf

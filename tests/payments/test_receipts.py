"""Receipts: numbered per local body and financial year, as JSON and as a PDF; each one in the public ledger."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from nagara.identity import service as identity
from nagara.ledger.models import PendingEntry
from nagara.payments import receipts
from nagara.payments.models import Receipt
from nagara.payments.receipts import rupees
from tests.payments.conftest import FEE, Pay


def test_receipts_are_numbered_per_local_body_and_year_and_render_as_pdf(pay: Pay, tmp_path: Path) -> None:
    numbers = []
    for _ in range(3):
        app = pay.apply()
        numbers.append(pay.counter(pay.demand_of(app["number"])["number"], FEE)["number"])
    prefix = numbers[0].rsplit("-", 1)[0]
    assert prefix.endswith(("-R-2026-27", "-R-2027-28"))
    first = int(numbers[0].rsplit("-", 1)[1])
    # consecutive (on PostgreSQL the counter is taken outside the test's rolled-back transaction)
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [first, first + 1, first + 2]
    other = pay.apply(body=pay.people.body_b)
    b_receipt = pay.counter(pay.demand_of(other["number"])["number"], FEE, who="b_counter_clerk")
    assert not b_receipt["number"].startswith(prefix) and "-R-" in b_receipt["number"]  # body B's own sequence

    got = pay.client.get(f"/api/v1/receipts/{numbers[0]}", headers=pay.h("citizen1"))
    assert got.status_code == 200 and got.json()["amount"] == FEE
    assert pay.client.get(f"/api/v1/receipts/{numbers[0]}", headers=pay.h("citizen2")).status_code == 404
    assert pay.client.get(f"/api/v1/receipts/{numbers[0]}", headers=pay.h("b_secretary")).status_code == 404
    pdf = pay.client.get(got.json()["pdf"], headers=pay.h("citizen1"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert numbers[0] in text and "Rs 260.00" in text and "Certificate fee" in text and "Cash" in text

    with pay.runtime.db.unit_of_work(readonly=True) as s:
        entries = list(s.scalars(select(PendingEntry).where(PendingEntry.type == "payment.received")))
    assert len(entries) == 4 and all(numbers[0] not in e.body.decode() for e in entries)  # the content is hashed, not shown


def test_rupees_in_indian_grouping() -> None:

    assert rupees(26000) == "Rs 260.00"
    assert rupees(123456789) == "Rs 12,34,567.89"
    assert rupees(100000) == "Rs 1,000.00"
    assert rupees(-5) == "-Rs 0.05"


def test_the_local_name_is_printed_only_with_fonts_that_shape_it(pay: Pay) -> None:

    app = pay.apply(body="kl.tvm-corp")
    other = pay.counter(pay.demand_of(app["number"])["number"], FEE, who="a_counter_clerk", status=404)
    assert other["status"] == 404  # body A's clerk does not even see another body's demand
    with pay.runtime.db.unit_of_work() as s:
        clerk = identity.create_officer(
            s,
            None,
            state_code="kl",
            username="tvm.counter",
            name="Clerk",
            password="a-long-password-1",
            role="counter_clerk",
            place=identity.Place("kl", "kl.tvm-corp"),
        ).user
        pay.people.users["tvm_clerk"] = clerk
    receipt = pay.counter(pay.demand_of(app["number"])["number"], FEE, who="tvm_clerk")
    with pay.runtime.db.unit_of_work(readonly=True) as s:
        row = s.scalar(select(Receipt).where(Receipt.number == receipt["number"]))
        assert row is not None
        html = receipts.render_html(s, row)
    families = {f["family"] for f in receipts.font_faces()}
    assert ("തിരുവനന്തപുരം" in html) == ("Noto Sans Malayalam" in families)

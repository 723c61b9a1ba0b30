"""The pay page and the counter in a browser: a citizen pays property tax online, a clerk takes cash."""

from __future__ import annotations

from typing import Any

import pyotp
from sqlalchemy import select

from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.payments import demands as payments
from nagara.payments.models import Demand, Property
from tests.browser import LiveServer, axe_check
from tests.conftest import PASSWORD, TOTP_SECRET
from tests.web.helpers import officer, sign_in_citizen

BODY = "kl.tvm-corp"
MOBILE = "9847012345"


def property_demands(live: LiveServer, owner_id: str | None, number: str) -> str:
    with live.runtime.db.unit_of_work() as s:
        if s.scalar(select(Property.id).where(Property.assessment_number == number)) is None:
            payments.register_property(
                s,
                local_body_code=BODY,
                assessment_number=number,
                usage="residential",
                zone=2,
                plinth_area_sqm=150,
                owner_id=owner_id,
            )
        payments.raise_property_demands(s, BODY)
        prop = s.scalar(select(Property).where(Property.assessment_number == number))
        assert prop is not None
        return str(s.scalar(select(Demand.number).where(Demand.property_id == prop.id, Demand.status == "due")))


def citizen_id(live: LiveServer, page: Any, mobile: str) -> str:
    """The citizen the sign-in created (once the page after signing in has loaded)."""
    page.get_by_role("button", name="Sign out").wait_for()
    number = identity.normalise_mobile(mobile)
    indexes = [identity.mobile_index(live.runtime, state, number) for state in ("kl", "ka")]
    with live.runtime.db.unit_of_work(readonly=True) as s:
        found = s.scalar(select(User.id).where(User.mobile_index.in_(indexes)))
    assert found is not None, "the sign-in created no citizen"
    return str(found)


def test_a_citizen_pays_property_tax_online_and_gets_a_receipt(live_server: LiveServer, page: Any, shot: Any) -> None:
    page.goto("/sign-in?next=/")
    sign_in_citizen(page, live_server, MOBILE, send="Send code", code_label="Code from the SMS", sign_in="Sign in", state="kl")
    demand = property_demands(live_server, citizen_id(live_server, page, MOBILE), "TVM/W12/0457")
    page.goto(f"/demands/{demand}/pay")
    assert page.get_by_role("heading", level=1).inner_text() == f"Pay demand {demand}"
    axe_check(page)
    shot(page, "payments-pay-page")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url("**/gateway/local/pay/**")
    page.get_by_role("button", name="Pay").first.click()  # on the gateway's page
    page.wait_for_url(f"**/demands/{demand}/pay?payment=*")
    notice = page.get_by_role("status").first.inner_text()
    if "waiting" in notice:  # the embedded worker delivers the callback within a poll
        page.reload()
    assert "Payment received" in page.get_by_role("status").first.inner_text()
    axe_check(page)
    shot(page, "payments-paid")
    page.get_by_role("link", name="-R-").first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Receipt ")
    axe_check(page)
    shot(page, "payments-receipt")


def test_the_upi_choice_shows_a_qr_code_for_the_amount(live_server: LiveServer, page: Any, shot: Any) -> None:
    page.goto("/sign-in?next=/")
    sign_in_citizen(
        page, live_server, "9847012346", send="Send code", code_label="Code from the SMS", sign_in="Sign in", state="kl"
    )
    demand = property_demands(live_server, citizen_id(live_server, page, "9847012346"), "TVM/W12/0458")
    page.goto(f"/demands/{demand}/pay")
    page.get_by_label("UPI: QR code or UPI app").check()
    page.get_by_role("button", name="Pay").click()
    qr = page.get_by_role("img", name="UPI QR code")
    qr.wait_for()
    page.wait_for_load_state("load")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 100  # the QR code loaded and drew
    href = page.get_by_role("link", name="Open a UPI app").get_attribute("href")
    assert href.startswith("upi://pay?pa=tvmcorp.collect%40examplebank")
    axe_check(page)
    shot(page, "payments-upi")


def test_a_counter_clerk_takes_cash_and_prints_the_receipt(live_server: LiveServer, page: Any, shot: Any) -> None:
    officer(live_server, "web.counter-clerk", "counter_clerk", BODY)
    demand = property_demands(live_server, None, "TVM/W03/0101")
    page.goto("/officer/counter")
    page.wait_for_url("**/officer/sign-in**")
    page.get_by_label("Username").fill("web.counter-clerk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/officer/counter**")
    axe_check(page)
    page.get_by_label("Demand or application number").fill(demand)
    page.get_by_role("button", name="Find").click()
    amount = page.get_by_label("Amount received (Rs)")
    due = amount.input_value()
    amount.fill("1.00")
    page.get_by_role("button", name="Record and print the receipt").click()
    assert "amount due today" in page.locator(".error-summary").inner_text()
    axe_check(page)
    page.get_by_label("Amount received (Rs)").fill(due)
    page.get_by_role("button", name="Record and print the receipt").click()
    page.wait_for_url("**/receipts/**")
    assert due.split(".")[0] in page.locator("tfoot").inner_text().replace(",", "")
    axe_check(page)
    page.get_by_role("link", name="Back to the counter").click()
    assert "1" in page.locator("dl.facts").first.inner_text()
    shot(page, "payments-counter")
    page.get_by_role("button", name="Close my counter for today").click()
    assert "You closed your counter" in page.get_by_role("status").first.inner_text()

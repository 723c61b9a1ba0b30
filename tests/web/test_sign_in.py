"""Sign-in pages in a real browser: a citizen by a code sent to the mobile, an officer by password and TOTP."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from nagara.identity import service as identity
from nagara.identity.models import User
from tests.browser import axe_check
from tests.conftest import PASSWORD, TOTP_SECRET


def test_citizen_signs_in_with_a_code_in_malayalam(new_page, live_server, shot):
    page = new_page("ml")
    page.goto("/sign-in")
    assert page.locator("html").get_attribute("lang") == "ml"
    axe_check(page)
    page.get_by_label("മൊബൈൽ നമ്പർ").fill("98470 00011")
    page.get_by_role("button", name="കോഡ് അയയ്ക്കുക").click()
    page.wait_for_url("**/sign-in")
    axe_check(page)
    page.get_by_label("SMS-ൽ ലഭിച്ച കോഡ്").fill("000000" if live_server.sms_code("9847000011") != "000000" else "111111")
    page.get_by_role("button", name="സൈൻ ഇൻ").click()
    assert page.locator(".field-error").is_visible()
    axe_check(page)
    shot(page, "sign-in-wrong-code-ml")
    page.get_by_label("SMS-ൽ ലഭിച്ച കോഡ്").fill(live_server.sms_code("9847000011"))
    page.get_by_role("button", name="സൈൻ ഇൻ").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("button", name="സൈൻ ഔട്ട്").is_visible()
    page.get_by_role("button", name="സൈൻ ഔട്ട്").click()
    assert page.get_by_role("link", name="സൈൻ ഇൻ").first.is_visible()


def test_bad_mobile_number_is_explained_next_to_the_field(page):
    page.goto("/sign-in")
    page.get_by_label("Mobile number").fill("12345")
    page.get_by_role("button", name="Send code").click()
    error = page.locator("#e-mobile")
    assert "10-digit" in error.inner_text()
    assert page.get_by_label("Mobile number").get_attribute("aria-invalid") == "true"
    axe_check(page)


def test_officer_signs_in_with_password_and_authenticator_code(page, live_server):
    with live_server.runtime.db.unit_of_work() as session:
        if session.scalar(select(User.id).where(User.username == "web.signin-clerk")) is None:
            identity.create_officer(
                session,
                None,
                state_code="kl",
                username="web.signin-clerk",
                name="Sign-in Clerk",
                password=PASSWORD,
                role="section_clerk",
                place=identity.Place("kl", "kl.tvm-corp"),
                totp_secret=TOTP_SECRET,
            )
    page.goto("/officer/sign-in")
    axe_check(page)
    page.get_by_label("Username").fill("web.signin-clerk")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name="Sign in").click()
    assert "wrong" in page.locator(".error-summary").inner_text()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Sign out").is_visible()


def test_language_switch_keeps_the_page(page):
    page.goto("/services/kl.tvm-corp/residence-certificate")
    page.get_by_role("link", name="हिन्दी").click()
    assert page.url.endswith("/services/kl.tvm-corp/residence-certificate")
    assert page.locator("html").get_attribute("lang") == "hi"
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"

"""An officer in a real browser: sign in, the inbox, an application a citizen submitted, to approval."""

from __future__ import annotations

from typing import Any

import pyotp

from tests.browser import axe_check
from tests.conftest import PASSWORD, TOTP_SECRET
from tests.officer import setup


def sign_in(page: Any, username: str, labels: dict[str, str]) -> None:
    """The workbench sends a signed-out officer to sign in, and back to it afterwards."""
    page.goto("/officer")
    assert "/officer/sign-in?next=" in page.url
    axe_check(page)
    page.get_by_label(labels["username"]).fill(username)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_label(labels["totp"]).fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name=labels["sign_in"]).click()
    page.wait_for_load_state()
    assert page.url.endswith("/officer"), (page.url, page.locator("main").inner_text()[:2000])


def test_an_officer_takes_an_application_to_approval_in_english(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    setup.officer(rt, "wb.tvm.registrar", "kl", "kl.tvm-corp", ["section_clerk", "secretary"])
    number = setup.submitted(
        rt,
        mobile="9847100001",
        state="kl",
        body="kl.tvm-corp",
        service="birth-registration",
        data=setup.kerala_birth(),
        documents={"birth-report": ("report.png", setup.png()), "parent-id": ("id.pdf", setup.PDF)},
    )
    page = new_page("en")
    sign_in(
        page,
        "wb.tvm.registrar",
        {"username": "Username", "password": "Password", "totp": "Authenticator code", "sign_in": "Sign in"},
    )
    assert page.get_by_role("heading", name="Inbox", level=1).is_visible()
    axe_check(page)
    shot(page, "officer-inbox-en")

    page.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/officer/applications/{number}")
    assert page.get_by_role("heading", name=f"Application {number}").is_visible()
    assert page.get_by_text("Name of the child").is_visible()  # the pack's label, not the field name
    assert page.get_by_role("img", name=f"Hospital birth report of {number}").is_visible()
    axe_check(page)
    shot(page, "officer-application-en")
    pdf = page.get_by_text("Show Parent's identity document here")
    pdf.click()
    assert page.locator(f'iframe[title="Parent\'s identity document of {number}"]').is_visible()
    shot(page, "officer-application-pdf-en")
    pdf.click()  # closed again: headless Chromium's PDF viewer takes the page's clicks while shown

    with page.expect_navigation():
        page.get_by_role("button", name="Verify documents and forward").click()
    shot(page, "officer-forwarded-en")
    assert page.get_by_role("status").inner_text().startswith("Done")
    assert page.get_by_text("Registrar's approval").first.is_visible()
    axe_check(page)

    # a rejection needs a comment: the browser asks for it (required), the server says so too
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"**/officer/applications/{number}?done=approve")
    assert "Registered" in page.locator(".facts").first.inner_text()
    assert not page.get_by_role("button", name="Register").is_visible()
    axe_check(page)
    shot(page, "officer-approved-en")

"""Reading and applying work with JavaScript switched off: plain forms, plain uploads, full page loads."""

from __future__ import annotations

from tests.browser import axe_check
from tests.web.helpers import sign_in_citizen, tiny_pdf


def test_apply_and_track_without_javascript(new_page, live_server, shot, tmp_path):
    page = new_page("en", java_script_enabled=False)
    checker = new_page("en")  # axe needs JavaScript: it checks the same page in a second tab with the same cookies

    def axe_same_page(_page=None) -> None:
        if page.url.endswith("/sign-in"):
            return  # a page posted to (the code form): checked in the tests with JavaScript
        checker.context.add_cookies(page.context.cookies())
        checker.goto(page.url)
        axe_check(checker)

    page.goto("/?body=kl.tvm-corp")
    page.get_by_role("link", name="Residence certificate").click()
    page.get_by_role("link", name="Apply now").click()
    sign_in_citizen(
        page, live_server, "9847100005", send="Send code", code_label="Code from the SMS", sign_in="Sign in", check=axe_same_page
    )
    page.wait_for_url("**/apply/kl.tvm-corp/residence-certificate")
    # Without JavaScript the question that applies only to tenants stays visible, marked as such.
    owner = page.get_by_label("Name of the building's owner (if it applies)")
    assert owner.is_visible()
    page.get_by_label("Name of the resident").fill("Meera")
    page.get_by_label("Building number").fill("TC 4/4")
    page.get_by_label("Ward number").fill("4")
    page.get_by_label("Living there since").fill("2021-02-01")
    page.get_by_label("Owner", exact=True).check()
    owner.fill("Someone else")  # answered although it does not apply: the server leaves it out
    page.get_by_label("Purpose of the certificate").fill("Gas connection")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url("**/documents")
    axe_same_page()
    number = page.url.split("/applications/")[1].split("/")[0]
    upload = tmp_path / "doc.pdf"
    upload.write_bytes(tiny_pdf())
    for label in ("File for: Identity document", "File for: Ration card or the ward member's certificate"):
        page.get_by_label(label).set_input_files(str(upload))
        with page.expect_navigation():
            page.get_by_label(label).locator("xpath=ancestor::form").get_by_role("button", name="Upload").click()
        assert "The file is uploaded." in page.locator(".notice").inner_text()
    page.get_by_role("link", name="Continue to check and submit").click()
    review = page.locator("main").inner_text()
    assert "Someone else" not in review
    page.get_by_role("button", name="Submit the application").click()
    page.wait_for_url(f"**/applications/{number}?submitted=1")
    assert "Scrutiny" in page.locator("main").inner_text()
    axe_same_page()
    shot(page, "en-10-no-js-track")

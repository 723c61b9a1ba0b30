"""A citizen applies through the pages and follows the application to its certificate, in English and Malayalam.

Every page visited is checked with axe; screenshots go to $WEB_SCREENSHOTS (or a tmp dir).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.browser import axe_check
from tests.web.helpers import officer, officer_acts, sign_in_citizen, tiny_pdf

CERTIFICATE_ROUTE = "/api/v1/applications/{number}/certificate.pdf"


def check_certificate_download(page, live, number: str) -> None:
    """The link gives the citizen, signed in by the session cookie, the signed certificate as a PDF."""
    response = page.request.get(CERTIFICATE_ROUTE.format(number=number))
    assert response.status == 200, response.text()
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF")


def test_citizen_applies_for_a_residence_certificate_in_english(new_page, live_server, shot, tmp_path):
    page = new_page("en")
    page.goto("/")
    axe_check(page)
    shot(page, "en-01-choose-body")
    page.get_by_label("Choose your local body").select_option("kl.tvm-corp")
    page.get_by_role("button", name="Show services").click()
    axe_check(page)
    page.get_by_label("Search services").fill("residence")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name="Residence certificate").is_visible()
    shot(page, "en-02-search")
    page.get_by_role("link", name="Residence certificate").click()
    axe_check(page)
    assert "3 working days" in page.locator("main").inner_text()
    shot(page, "en-03-service")
    page.get_by_role("link", name="Apply now").click()

    # Not signed in yet: the sign-in page, then back to the form.
    assert "/sign-in" in page.url
    sign_in_citizen(page, live_server, "9847100001", send="Send code", code_label="Code from the SMS", sign_in="Sign in")
    page.wait_for_url("**/apply/kl.tvm-corp/residence-certificate")
    axe_check(page)

    # A wrong answer is explained next to its field, in the page's language.
    page.get_by_label("Name of the resident").fill("Anil Kumar")
    page.get_by_label("Ward number").fill("abc")
    page.get_by_role("button", name="Save and continue").click()
    assert page.locator("#e-ward").is_visible()
    axe_check(page)
    shot(page, "en-04-form-error")

    page.get_by_label("Ward number").fill("12")
    page.get_by_label("Building number").fill("TC 12/345")
    page.get_by_label("Living there since").fill("2019-06-01")
    page.get_by_label("Tenant").check()
    assert page.get_by_label("Name of the building's owner").is_visible()  # shown once it applies
    page.get_by_label("Name of the building's owner").fill("Leela Devi")
    page.get_by_label("Purpose of the certificate").fill("School admission")
    page.get_by_role("button", name="Save draft").click()
    assert "Your draft is saved" in page.locator(".notice").inner_text()
    number = page.url.split("/applications/")[1].split("/")[0]
    assert number.startswith("KL-TVMCORP-RC-")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(f"**/applications/{number}/documents")
    axe_check(page)

    upload = tmp_path / "id.pdf"
    upload.write_bytes(tiny_pdf())
    for label in (
        "File for: Identity document",
        "File for: Ration card or the ward member's certificate",
        "File for: Rent agreement",
    ):
        page.get_by_label(label).set_input_files(str(upload))
        with page.expect_navigation():
            page.get_by_label(label).locator("xpath=ancestor::form").get_by_role("button", name="Upload").click()
        assert "The file is uploaded." in page.locator(".notice").inner_text()
    axe_check(page)
    shot(page, "en-05-documents")

    page.get_by_role("link", name="Continue to check and submit").click()
    axe_check(page)
    assert "Leela Devi" in page.locator("main").inner_text()
    shot(page, "en-06-review")
    page.get_by_role("button", name="Submit the application").click()
    page.wait_for_url(f"**/applications/{number}?submitted=1")
    axe_check(page)
    text = page.locator("main").inner_text()
    assert "Scrutiny" in text
    assert "Section clerk" in text or "Section Clerk" in text
    assert "This step is due by" in text
    shot(page, "en-07-track-submitted")

    officer(live_server, "web.tvm-clerk", "section_clerk")
    officer(live_server, "web.tvm-secretary", "secretary")
    officer_acts(live_server, "web.tvm-clerk", number, "forward")
    officer_acts(live_server, "web.tvm-secretary", number, "approve")

    page.reload()
    axe_check(page)
    text = page.locator("main").inner_text()
    assert "Certificate issued" in text
    link = page.get_by_role("link", name="Download certificate")
    assert link.get_attribute("href") == CERTIFICATE_ROUTE.format(number=number)
    assert not page.get_by_role("link", name="Pay").count()
    shot(page, "en-08-track-approved")
    check_certificate_download(page, live_server, number)

    page.get_by_role("link", name="My applications").first.click()
    axe_check(page)
    assert number in page.locator("main").inner_text()


def test_citizen_registers_a_birth_in_malayalam_and_sees_the_fee(new_page, live_server, shot, tmp_path):
    page = new_page("ml")
    page.goto("/?body=kl.tvm-corp")
    assert page.locator("html").get_attribute("lang") == "ml"
    axe_check(page)
    page.get_by_label("സേവനങ്ങൾ തിരയുക").fill("ജനന")
    page.get_by_role("button", name="തിരയുക").click()
    shot(page, "ml-01-search")
    page.get_by_role("link", name="ജനന രജിസ്ട്രേഷൻ").click()
    axe_check(page)
    shot(page, "ml-02-service")
    page.get_by_role("link", name="ഇപ്പോൾ അപേക്ഷിക്കുക").click()
    sign_in_citizen(page, live_server, "9847100002", send="കോഡ് അയയ്ക്കുക", code_label="SMS-ൽ ലഭിച്ച കോഡ്", sign_in="സൈൻ ഇൻ")
    page.wait_for_url("**/apply/kl.tvm-corp/birth-registration")
    axe_check(page)

    # Required answers missing: messages in Malayalam, from the catalogue's form validation.
    page.get_by_role("button", name="സേവ് ചെയ്ത് തുടരുക").click()
    assert "ഈ വിവരം നൽകേണ്ടതാണ്" in page.locator(".error-summary").inner_text()
    axe_check(page)
    shot(page, "ml-03-form-required")

    born = (datetime.now(UTC).date() - timedelta(days=25)).isoformat()
    page.get_by_label("കുട്ടിയുടെ പേര്").fill("അമ്മു")
    page.get_by_label("സ്ത്രീ").check()
    page.get_by_label("ജനന തീയതി").fill(born)
    page.get_by_label("ജനന സ്ഥലം").select_option("home")
    page.get_by_label("വാർഡ് നമ്പർ").fill("7")
    page.get_by_label("അമ്മയുടെ പേര്").fill("ലക്ഷ്മി")
    page.get_by_label("അറിയിക്കുന്നയാൾ").select_option("mother")
    page.get_by_role("button", name="സേവ് ചെയ്ത് തുടരുക").click()
    page.wait_for_url("**/documents")
    upload = tmp_path / "parent.pdf"
    upload.write_bytes(tiny_pdf())
    field = page.get_by_label("ഫയൽ: മാതാപിതാക്കളുടെ തിരിച്ചറിയൽ രേഖ")
    field.set_input_files(str(upload))
    with page.expect_navigation():
        field.locator("xpath=ancestor::form").get_by_role("button", name="അപ്‌ലോഡ് ചെയ്യുക").click()
    axe_check(page)
    shot(page, "ml-04-documents")
    page.get_by_role("link", name="പരിശോധിച്ച് സമർപ്പിക്കാൻ തുടരുക").click()
    axe_check(page)
    assert "₹2.00" in page.locator("main").inner_text()
    page.get_by_role("button", name="അപേക്ഷ സമർപ്പിക്കുക").click()
    page.wait_for_url("**?submitted=1")
    axe_check(page)
    number = page.url.split("/applications/")[1].split("?")[0]
    pay = page.get_by_role("link", name="₹2.00 അടയ്ക്കുക")
    assert pay.get_attribute("href") == f"/applications/{number}/pay"
    shot(page, "ml-05-track-fee-due")
    # the citizen pays online (the pay page in Malayalam, then the local gateway's page)
    pay.click()
    axe_check(page)
    page.get_by_role("button", name="₹2.00 അടയ്ക്കുക").click()
    page.wait_for_url("**/gateway/local/pay/**")
    page.get_by_role("button", name="Pay Rs 2.00").click()
    page.wait_for_url(f"**/applications/{number}/pay?payment=*")
    axe_check(page)
    shot(page, "ml-05b-paid")
    page.goto(f"/applications/{number}")

    officer(live_server, "web.tvm-clerk", "section_clerk")
    officer(live_server, "web.tvm-secretary", "secretary")
    officer_acts(live_server, "web.tvm-clerk", number, "forward")
    officer_acts(live_server, "web.tvm-secretary", number, "approve")
    page.reload()
    axe_check(page)
    text = page.locator("main").inner_text()
    assert "രജിസ്റ്റർ ചെയ്തു" in text
    assert not page.get_by_role("link", name="₹2.00 അടയ്ക്കുക").count()
    assert page.get_by_role("link", name="സർട്ടിഫിക്കറ്റ് ഡൗൺലോഡ് ചെയ്യുക").get_attribute("href") == CERTIFICATE_ROUTE.format(
        number=number
    )
    shot(page, "ml-06-track-approved")
    check_certificate_download(page, live_server, number)


@pytest.mark.parametrize("lang", ["kn", "hi"])
def test_pages_render_in_kannada_and_hindi(new_page, lang, shot):
    page = new_page(lang)
    for path in ("/?body=kl.tvm-corp", "/services/kl.tvm-corp/birth-registration", "/sign-in", "/officer/sign-in"):
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == lang
        axe_check(page)
    shot(page, f"{lang}-officer-sign-in")

"""Jammu and Kashmir through the pages: a birth registered in Urdu (right to left) at Jammu Municipal
Corporation to its certificate, and a trade licence applied for in Hindi at a municipal committee.

Every page is checked with axe; screenshots go to $WEB_SCREENSHOTS (or a tmp dir). The Urdu
certificate's text is read back with pdftotext.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from nagara.identity import service as identity
from nagara.identity.models import User
from tests.browser import axe_check
from tests.web.helpers import officer, officer_acts, sign_in_citizen, tiny_pdf

CERTIFICATE_ROUTE = "/api/v1/applications/{number}/certificate.pdf"


def _rtl(page) -> None:
    assert page.locator("html").get_attribute("lang") == "ur"
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"


def _pdftotext(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed to read the PDFs back")
    (tmp_path / "read.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", str(tmp_path / "read.pdf"), "-"], capture_output=True, text=True, check=True).stdout


def _upload(page, tmp_path, label: str, button: str, notice: str) -> None:
    upload = tmp_path / "doc.pdf"
    upload.write_bytes(tiny_pdf())
    field = page.get_by_label(label)
    field.set_input_files(str(upload))
    with page.expect_navigation():
        field.locator("xpath=ancestor::form").get_by_role("button", name=button).click()
    assert notice in page.locator(".notice").inner_text()


def _workbench_in_urdu(new_page, live_server, shot, user, number: str) -> None:
    """The designated officer's inbox and the application, in an Urdu (right-to-left) layout."""
    with live_server.runtime.db.unit_of_work() as session:
        raw = identity.issue_token(session, session.get(User, user.id), "session")
    page = new_page("ur")
    page.context.add_cookies([{"name": live_server.runtime.settings.session_cookie, "value": raw, "url": live_server.url}])
    for path, name in (("/officer", "ur-08-workbench-inbox"), (f"/officer/applications/{number}", "ur-09-workbench-application")):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        _rtl(page)
        axe_check(page)
        assert number in page.locator("main").inner_text()
        assert "پیدائش کا اندراج اور پیدائشی سرٹیفکیٹ" in page.locator("main").inner_text()  # the pack's Urdu
        shot(page, name)


def test_a_birth_is_registered_in_urdu_right_to_left(new_page, live_server, shot, tmp_path):
    page = new_page("ur")
    page.goto("/?body=jk.jammu-corp")
    _rtl(page)
    axe_check(page)
    shot(page, "ur-01-services")
    page.get_by_label("سروسز تلاش کریں").fill("پیدائش")
    page.get_by_role("button", name="تلاش", exact=True).click()
    page.get_by_role("link", name="پیدائش کا اندراج اور پیدائشی سرٹیفکیٹ").click()
    _rtl(page)
    axe_check(page)
    assert "7 کام کے دن" in page.locator("main").inner_text()  # the PSGA time limit
    shot(page, "ur-02-service")
    page.get_by_role("link", name="ابھی درخواست دیں").click()

    assert "/sign-in" in page.url
    _rtl(page)
    sign_in_citizen(page, live_server, "9419100001", send="کوڈ بھیجیں", code_label="ایس ایم ایس میں آیا کوڈ", sign_in="سائن اِن")
    page.wait_for_url("**/apply/jk.jammu-corp/birth-registration")
    _rtl(page)
    axe_check(page)

    # Required answers missing: the messages are Urdu, from the catalogue's form validation.
    page.get_by_role("button", name="محفوظ کر کے آگے بڑھیں").click()
    assert "یہ خانہ ضروری ہے" in page.locator(".error-summary").inner_text()
    axe_check(page)
    shot(page, "ur-03-form-required")

    born = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    page.get_by_label("بچے کا نام").fill("زینب")
    page.get_by_label("عورت").check()
    page.get_by_label("تاریخِ پیدائش").fill(born)
    page.get_by_label("گھر").check()
    page.get_by_label("والدہ کا نام").fill("شازیہ بانو")
    page.get_by_label("والد کا نام").fill("محمد اشرف")
    page.get_by_label("والدین کا پتہ").fill("وارڈ نمبر 12، گاندھی نگر، جموں")
    page.get_by_role("button", name="محفوظ کر کے آگے بڑھیں").click()
    page.wait_for_url("**/documents")
    _rtl(page)
    for document in (
        "ہسپتال سے پیدائش کی رپورٹ، یا گھر پر پیدائش کے لیے حلف نامہ",
        "درخواست گزار کی شناختی دستاویز (آدھار یا ووٹر کارڈ)",
    ):
        _upload(page, tmp_path, f"فائل برائے: {document}", "اپلوڈ کریں", "فائل اپلوڈ ہو گئی۔")
    axe_check(page)
    shot(page, "ur-04-documents")
    page.get_by_role("link", name="جانچنے اور جمع کرنے کے لیے آگے بڑھیں").click()
    axe_check(page)
    assert "شازیہ بانو" in page.locator("main").inner_text()
    shot(page, "ur-05-review")
    page.get_by_role("button", name="درخواست جمع کریں").click()
    page.wait_for_url("**?submitted=1")
    _rtl(page)
    axe_check(page)
    number = page.url.split("/applications/")[1].split("?")[0]
    assert number.startswith("JK-JAMMUCORP-BR-")
    main = page.locator("main").inner_text()
    assert "جانچ" in main and "ڈیلنگ اسسٹنٹ" in main
    assert "← جانچ" in page.locator(".timeline").inner_text()  # the step's arrow points the way Urdu reads
    # the application number keeps its left-to-right order inside the Urdu sentence
    assert page.locator("p.hint bdi").inner_text() == number
    assert page.evaluate("getComputedStyle(document.querySelector('p.hint bdi')).unicodeBidi") == "isolate"
    shot(page, "ur-06-track-submitted")
    slip = page.request.get(f"/applications/{number}/acknowledgement.pdf")
    assert slip.status == 200, slip.text()
    slip_text = _pdftotext(slip.body(), tmp_path)
    for words in ("درخواست نمبر", "پیدائش کا اندراج اور پیدائشی سرٹیفکیٹ", "جموں میونسپل کارپوریشن", number):
        assert words in slip_text, (words, slip_text)

    body = "jk.jammu-corp"
    officer(live_server, "web.jmc-clerk", "section_clerk", body)
    officer(live_server, "web.jmc-officer", "officer", body)
    officer_acts(live_server, "web.jmc-clerk", number, "forward")
    _workbench_in_urdu(new_page, live_server, shot, officer(live_server, "web.jmc-officer", "officer", body), number)
    officer_acts(live_server, "web.jmc-officer", number, "approve")
    page.reload()
    _rtl(page)
    axe_check(page)
    assert "منظور" in page.locator("main").inner_text()
    link = page.get_by_role("link", name="سرٹیفکیٹ ڈاؤن لوڈ کریں")
    assert link.get_attribute("href") == CERTIFICATE_ROUTE.format(number=number)
    shot(page, "ur-07-track-approved")

    response = page.request.get(CERTIFICATE_ROUTE.format(number=number))
    assert response.status == 200, response.text()
    text = _pdftotext(response.body(), tmp_path)
    for words in ("پیدائشی سرٹیفکیٹ", "جموں میونسپل کارپوریشن", "رجسٹرار پیدائش و اموات", "زینب", "شازیہ بانو"):
        assert words in text, words


def test_a_trade_licence_is_applied_for_in_hindi_at_a_municipal_committee(new_page, live_server, shot, tmp_path):
    page = new_page("hi")
    page.goto("/?body=jk.samba-committee")
    assert page.locator("html").get_attribute("lang") == "hi"
    assert page.locator("html").get_attribute("dir") in (None, "ltr")
    axe_check(page)
    page.get_by_role("link", name="व्यापार लाइसेंस").click()
    axe_check(page)
    shot(page, "jk-hi-01-service")
    page.get_by_role("link", name="अभी आवेदन करें").click()
    sign_in_citizen(page, live_server, "9419100002", send="कोड भेजें", code_label="SMS में आया कोड", sign_in="साइन इन")
    page.wait_for_url("**/apply/jk.samba-committee/trade-licence")
    axe_check(page)
    page.get_by_label("कारोबार का नाम").fill("शर्मा जनरल स्टोर")
    page.get_by_label("व्यापार का प्रकार").select_option("retail")
    page.get_by_label("परिसर का फ़र्श क्षेत्रफल (m²)").fill("20")
    page.get_by_label("अपना").check()
    page.get_by_label("परिसर का पता").fill("मुख्य बाज़ार, सांबा")
    page.get_by_role("button", name="सहेजें और आगे बढ़ें").click()
    page.wait_for_url("**/documents")
    _upload(page, tmp_path, "फ़ाइल: आवेदक का पहचान दस्तावेज़ (आधार या मतदाता पहचान पत्र)", "अपलोड करें", "फ़ाइल अपलोड हो गई।")
    axe_check(page)
    page.get_by_role("link", name="जाँचने और जमा करने के लिए आगे बढ़ें").click()
    axe_check(page)
    assert "₹500.00" in page.locator("main").inner_text()
    shot(page, "jk-hi-02-review")
    page.get_by_role("button", name="आवेदन जमा करें").click()
    page.wait_for_url("**?submitted=1")
    axe_check(page)
    number = page.url.split("/applications/")[1].split("?")[0]
    assert number.startswith("JK-SAMBACOMMI-TL-")
    text = page.locator("main").inner_text()
    assert "जाँच" in text and "डीलिंग सहायक" in text
    shot(page, "jk-hi-03-track")

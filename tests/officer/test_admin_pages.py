"""Administration and assisted access in a real browser, with axe on every page."""

from __future__ import annotations

from typing import Any

from tests.browser import axe_check
from tests.officer import setup
from tests.officer.test_workbench_pages import sign_in

ENGLISH = {"username": "Username", "password": "Password", "totp": "Authenticator code", "sign_in": "Sign in"}
HINDI_SIGN_IN = "साइन इन"


def test_a_state_administrator_reads_services_officers_and_the_pack(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    setup.officer(rt, "wb.kl.admin", "kl", None, ["state_admin"])
    setup.officer(rt, "wb.tvm.clerk", "kl", "kl.tvm-corp", ["counter_clerk"])
    page = new_page("en")
    sign_in(page, "wb.kl.admin", ENGLISH)
    page.get_by_role("link", name="Administration").click()
    page.wait_for_url("**/officer/admin")
    axe_check(page)
    page.get_by_label("Local body").first.select_option("kl.tvm-corp")
    with page.expect_navigation():
        page.get_by_role("button", name="Show its services").click()
    assert page.url.endswith("/officer/admin/bodies/kl.tvm-corp/services")
    assert "Attukal Pongala" in page.locator("main").inner_text()
    assert (
        page.get_by_role("row", name="Trade licence (new)").get_by_text("Changed").is_visible()
        or "fees.items" in page.locator("main").inner_text()
    )
    axe_check(page)
    shot(page, "admin-services-en")

    page.goto("/officer/admin/bodies/kl.tvm-corp/officers")
    assert "wb.tvm.clerk" in page.locator("main").inner_text()
    page.get_by_label("Role to give wb.tvm.clerk").select_option("section_clerk")
    with page.expect_navigation():
        page.locator("tr", has_text="wb.tvm.clerk").get_by_role("button", name="Give the role").click()
    assert page.get_by_role("status").inner_text() == "The role was granted."
    axe_check(page)
    shot(page, "admin-officers-en")

    page.goto("/officer/admin/pack")
    assert "Valid, and the same as what is loaded." in page.get_by_role("status").inner_text()
    axe_check(page)
    shot(page, "admin-pack-en")


def test_an_operator_applies_for_a_citizen_in_hindi(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    setup.officer(rt, "wb.tvm.akshaya", "kl", "kl.tvm-corp", ["operator"])
    page = new_page("hi")
    sign_in(page, "wb.tvm.akshaya", {"username": "यूज़रनेम", "password": "पासवर्ड", "totp": "ऑथेंटिकेटर कोड", "sign_in": HINDI_SIGN_IN})
    page.goto("/officer/assist")
    assert page.get_by_role("heading", name="नागरिक की ओर से आवेदन", level=1).is_visible()
    axe_check(page)
    page.get_by_label("सेवा").select_option("kl.tvm-corp/residence-certificate")
    page.get_by_label("नागरिक का मोबाइल नंबर").fill("98470 55501")
    with page.expect_navigation():
        page.get_by_role("button", name="सहमति कोड भेजें").click()
    assert "••••••5501" in page.get_by_role("status").inner_text()
    axe_check(page)
    shot(page, "assist-code-hi")
    page.get_by_label("नागरिक द्वारा पढ़ा गया कोड").fill(live_server.sms_code("9847055501"))
    with page.expect_navigation():
        page.get_by_role("button", name="सहमति दर्ज करें और आवेदन शुरू करें").click()
    assert "नागरिक ने सहमति दी।" in page.get_by_role("status").inner_text()
    axe_check(page)
    shot(page, "assist-started-hi")
    # then the same form the citizen would see, for the draft in the citizen's name
    with page.expect_navigation():
        page.get_by_role("link", name="फ़ॉर्म भरें").click()
    assert "/applications/" in page.url and page.url.endswith("/edit")
    assert page.get_by_role("heading", name="निवास प्रमाणपत्र", level=1).is_visible()
    axe_check(page)
    shot(page, "assist-form-hi")

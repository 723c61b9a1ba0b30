"""An officer in a real browser: sign in, the inbox, an application a citizen submitted, to approval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import update

from nagara.applications.models import Application
from nagara.kit.db import utcnow
from tests.browser import axe_check
from tests.conftest import PASSWORD, TOTP_SECRET
from tests.officer import setup


def sign_in(page: Any, username: str, labels: dict[str, str], *, check: bool = True) -> None:
    """The workbench sends a signed-out officer to sign in, and back to it afterwards."""
    page.goto("/officer")
    assert "/officer/sign-in?next=" in page.url
    if check:  # axe runs as a script: not in a page without JavaScript
        axe_check(page)
    page.get_by_label(labels["username"]).fill(username)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_label(labels["totp"]).fill(pyotp.TOTP(TOTP_SECRET).now())
    page.get_by_role("button", name=labels["sign_in"]).click()
    page.wait_for_load_state()
    assert page.url.endswith("/officer"), (page.url, page.locator("main").inner_text()[:2000])


ENGLISH_LABELS = {"username": "Username", "password": "Password", "totp": "Authenticator code", "sign_in": "Sign in"}


def test_an_officer_takes_an_application_to_approval_in_english(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    # a body no other browser test uses: work goes to the least-loaded officer, who must be this one
    setup.officer(rt, "wb.tcr.registrar", "kl", "kl.thrissur-corp", ["section_clerk", "secretary"])
    number = setup.submitted(
        rt,
        mobile="9847300001",
        state="kl",
        body="kl.thrissur-corp",
        service="birth-registration",
        data=setup.kerala_birth(),
        documents={"birth-report": ("report.png", setup.png()), "parent-id": ("id.pdf", setup.PDF)},
        assigned_to="wb.tcr.registrar",
    )
    page = new_page("en")
    sign_in(
        page,
        "wb.tcr.registrar",
        {"username": "Username", "password": "Password", "totp": "Authenticator code", "sign_in": "Sign in"},
    )
    assert page.get_by_role("heading", name="Inbox", level=1).is_visible()
    axe_check(page)
    shot(page, "officer-inbox-en")
    # with htmx, choosing a filter updates the list (and the address) at once; without it, the button does
    page.get_by_label("Service").select_option("death-registration")
    page.wait_for_url("**/officer?*service=death-registration*")
    assert page.get_by_text("No open work matches.").is_visible()
    page.get_by_role("link", name="Clear the filters").click()
    page.wait_for_url("**/officer")

    page.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/officer/applications/{number}")
    assert page.get_by_role("heading", name=f"Application {number}").is_visible()
    assert page.locator("dt", has_text="Name of the child").is_visible()  # the pack's label, not the field name
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


KANNADA = {"username": "ಬಳಕೆದಾರ ಹೆಸರು", "password": "ಪಾಸ್‌ವರ್ಡ್", "totp": "ದೃಢೀಕರಣ ಕೋಡ್", "sign_in": "ಸೈನ್ ಇನ್"}
MALAYALAM = {"username": "യൂസർനെയിം", "password": "പാസ്‌വേഡ്", "totp": "ഓതന്റിക്കേറ്റർ കോഡ്", "sign_in": "സൈൻ ഇൻ"}


def test_an_officer_takes_an_application_to_approval_in_kannada(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    body = "ka.bengaluru-central-cc"
    setup.officer(rt, "wb.blr.officer", "ka", body, ["section_clerk", "officer", "counter_clerk"])
    number = setup.submitted(
        rt,
        mobile="9845100001",
        state="ka",
        body=body,
        service="birth-certificate",
        data=setup.karnataka_birth(),
        documents={"applicant-id": ("id.png", setup.png())},
        assigned_to="wb.blr.officer",
    )
    page = new_page("kn")
    sign_in(page, "wb.blr.officer", KANNADA)
    assert page.locator("html").get_attribute("lang") == "kn"
    assert page.get_by_role("heading", name="ಇನ್‌ಬಾಕ್ಸ್", level=1).is_visible()
    axe_check(page)
    shot(page, "officer-inbox-kn")

    page.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/officer/applications/{number}")
    assert page.locator("dt", has_text="ಮಗುವಿನ ಹೆಸರು").is_visible()  # the pack's Kannada label
    assert page.get_by_text("ಪ್ರಮಾಣಪತ್ರ ಶುಲ್ಕ (ಹೆಚ್ಚುವರಿ ಪ್ರತಿಗಳು)").is_visible()
    assert "₹50.00" in page.locator("main").inner_text()
    axe_check(page)
    shot(page, "officer-application-kn")

    # a return needs a comment: without one the server says so, and nothing changes
    back = page.locator("form.action-form", has=page.get_by_role("button", name="ತಿದ್ದುಪಡಿಗಾಗಿ ಹಿಂದಿರುಗಿಸಿ"))
    back.locator("textarea").evaluate("t => t.removeAttribute('required')")  # what a browser without validation sends
    with page.expect_navigation():
        back.get_by_role("button").click()
    assert page.get_by_role("alert").is_visible()
    assert "ಕಾರಣ ತಿಳಿಸುವ ಟಿಪ್ಪಣಿ ಬರೆಯಿರಿ." in page.locator(".field-error").inner_text()
    axe_check(page)
    shot(page, "officer-comment-required-kn")

    # the fee is not marked paid by a button: it is taken at the counter, and the receipt marks it paid
    assert not page.get_by_role("button", name="ಕೌಂಟರ್‌ನಲ್ಲಿ ಶುಲ್ಕ ಪಾವತಿ ದಾಖಲಿಸಿ").is_visible()
    page.get_by_role("link", name="ಕೌಂಟರ್‌ನಲ್ಲಿ ಶುಲ್ಕ ಸ್ವೀಕರಿಸಿ").click()
    page.wait_for_url("**/officer/counter**")
    assert "₹50.00" in page.locator("main").inner_text()
    axe_check(page)
    with page.expect_navigation():
        page.get_by_role("button", name="ದಾಖಲಿಸಿ ರಸೀದಿ ಮುದ್ರಿಸಿ").click()
    assert "KA-BENGALURUC-R-" in page.locator("main").inner_text()  # the receipt
    page.goto(f"/officer/applications/{number}")
    assert "ಪಾವತಿಸಲಾಗಿದೆ" in page.locator("main").inner_text()

    with page.expect_navigation():
        page.get_by_role("button", name="ದಾಖಲೆಗಳನ್ನು ಪರಿಶೀಲಿಸಿ ಮುಂದೆ ಕಳುಹಿಸಿ").click()
    with page.expect_navigation():
        page.get_by_role("button", name="ಪ್ರಮಾಣಪತ್ರ ನೀಡಿ").click()
    facts = page.locator(".facts").first.inner_text()
    assert "ಮುಕ್ತಾಯ" in facts  # closed
    axe_check(page)
    shot(page, "officer-approved-kn")


def test_a_bulk_action_and_what_falls_due_in_malayalam(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    body = "kl.kochi-corp"
    setup.officer(rt, "wb.kochi.clerk", "kl", body, ["section_clerk"])
    numbers = [
        setup.submitted(
            rt,
            mobile=f"98473001{i:02d}",
            state="kl",
            body=body,
            service="birth-registration",
            data=setup.kerala_birth(),
            documents={"birth-report": ("r.png", setup.png()), "parent-id": ("id.png", setup.png())},
            assigned_to="wb.kochi.clerk",
        )
        for i in range(3)
    ]
    # Overdue, and already seen by the time-limit sweep. The live server's worker runs the sweep
    # at every minute of the clock: work it has not seen yet it escalates from the clerk to the
    # officer pool (scrutiny's escalate_to), which empties this inbox of it or makes the bulk
    # action stale, whenever a minute begins between here and the bulk action.
    with rt.db.unit_of_work() as s:
        s.execute(
            update(Application)
            .where(Application.number == numbers[0])
            .values(state_due_at=utcnow() - timedelta(hours=5), state_escalated=True)
        )
    page = new_page("ml")
    sign_in(page, "wb.kochi.clerk", MALAYALAM)
    overdue = page.locator("tr.is-overdue")
    assert overdue.count() == 1 and "സമയപരിധി കഴിഞ്ഞു" in overdue.inner_text()  # marked in words, not only colour
    page.get_by_label(f"{numbers[0]} തിരഞ്ഞെടുക്കുക").check()
    page.get_by_label(f"{numbers[1]} തിരഞ്ഞെടുക്കുക").check()
    page.get_by_label("നടപടി", exact=True).select_option("return")
    page.get_by_label("കുറിപ്പ്", exact=True).fill("ആശുപത്രി റിപ്പോർട്ട് വ്യക്തമല്ല")
    axe_check(page)
    shot(page, "officer-bulk-ml")
    with page.expect_navigation():
        page.get_by_role("button", name="തിരഞ്ഞെടുത്തവയിൽ നടപടി എടുക്കുക").click()
    assert "2 അപേക്ഷകളിൽ നടപടി എടുത്തു." in page.get_by_role("status").inner_text()
    remaining = page.locator("table.work tbody tr")
    assert remaining.count() == 1 and numbers[2] in remaining.inner_text()
    axe_check(page)

    page.get_by_role("link", name="സമയപരിധി എത്തുന്നവ").click()
    page.wait_for_url("**/officer/due")
    assert page.get_by_role("heading", name="സമയപരിധി എത്തുന്നവ", level=1).is_visible()
    assert page.get_by_role("heading", name="ഇന്ന് സമയപരിധി (0)").is_visible()
    axe_check(page)
    shot(page, "officer-due-ml")


def test_the_workbench_works_without_javascript(new_page: Any, live_server: Any) -> None:
    rt = live_server.runtime
    setup.officer(rt, "wb.kollam.clerk", "kl", "kl.kollam-corp", ["section_clerk"])
    number = setup.submitted(
        rt,
        mobile="9847200001",
        state="kl",
        body="kl.kollam-corp",
        service="birth-registration",
        data=setup.kerala_birth(),
        documents={"birth-report": ("r.png", setup.png()), "parent-id": ("id.pdf", setup.PDF)},
        assigned_to="wb.kollam.clerk",
    )
    page = new_page("en", java_script_enabled=False)
    sign_in(page, "wb.kollam.clerk", ENGLISH_LABELS, check=False)
    page.set_default_timeout(10_000)
    page.get_by_label("Overdue", exact=True).select_option("no")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply the filters").click()
    assert "overdue=no" in page.url and page.get_by_role("link", name=number).is_visible()
    page.get_by_label(f"Select {number}").check()
    page.get_by_label("Action", exact=True).select_option("forward")
    with page.expect_navigation():
        page.get_by_role("button", name="Take the action on the selected").click()
    assert page.get_by_role("status").inner_text() == "The action was taken on 1 application."

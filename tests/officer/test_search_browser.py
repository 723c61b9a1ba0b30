"""The officer's search in a real browser: a Malayalam name, the results, the spreadsheet link, accessibility."""

from __future__ import annotations

from typing import Any

from tests.browser import axe_check
from tests.officer import setup
from tests.officer.test_workbench_pages import ENGLISH_LABELS, sign_in


def test_an_officer_finds_an_application_by_a_malayalam_name(new_page: Any, live_server: Any, shot: Any) -> None:
    rt = live_server.runtime
    body = "kl.kannur-corp"  # a body no other browser test uses
    setup.officer(rt, "wb.knr.clerk", "kl", body, ["section_clerk"])
    number = setup.submitted(
        rt,
        mobile="9847300077",
        state="kl",
        body=body,
        service="birth-registration",
        data={**setup.kerala_birth(), "child_name": "ആദിത്യ\u200cൻ നായർ"},
        documents={"birth-report": ("report.png", setup.png()), "parent-id": ("id.pdf", setup.PDF)},
    )
    page = new_page("en")
    sign_in(page, "wb.knr.clerk", ENGLISH_LABELS)
    page.get_by_role("link", name="Search", exact=True).click()
    page.wait_for_url("**/officer/search")
    axe_check(page)
    page.get_by_label("Name").fill("നായർ")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert page.get_by_role("link", name=number).is_visible()
    assert page.get_by_role("link", name="Download all that were found as a spreadsheet (CSV)").is_visible()
    axe_check(page)
    shot(page, "officer-search-en")
    page.get_by_label("Name").fill("")
    page.get_by_label("Mobile number").fill("12")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert page.get_by_role("alert").is_visible()
    axe_check(page)

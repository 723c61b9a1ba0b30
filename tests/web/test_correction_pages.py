"""Returned for correction, through the pages without JavaScript: the citizen sees what the office
asked for, corrects that answer, replaces and removes that document, and resubmits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from nagara.applications import service as applications
from nagara.applications.data import unseal_data
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.workflow import engine
from tests.browser import axe_check
from tests.conftest import make_citizen
from tests.web.helpers import officer, sign_in_citizen, tiny_pdf
from tests.web.test_no_english import english_left

MOBILE = "9847100031"


def _principal(live, session):
    user = session.scalar(
        select(User).where(User.mobile_index == identity.mobile_index(live.runtime, "kl", identity.normalise_mobile(MOBILE)))
    )
    return identity.load_principal(session, user, "session")


def _apply_through_services(live) -> str:
    with live.runtime.db.unit_of_work() as session:
        principal = _principal(live, session)
        data = {
            "resident_name": "Ravi",
            "building_number": "TC 9/9",
            "ward": 9,
            "residing_since": "2018-04-01",
            "occupancy": "owner",
            "purpose": "Passport",
        }
        app = applications.create(
            session, principal, tenant="kl.tvm-corp", service_code="residence-certificate", data=data, submit=False
        )
        for code in ("identity-proof", "residence-proof"):
            applications.upload(
                session,
                principal,
                app.number,
                doc_type=code,
                filename=f"{code}.pdf",
                declared="application/pdf",
                content=tiny_pdf(),
            )
        applications.act(session, principal, app.number, action="submit", comment=None, version=app.version)
        return app.number


def _returned(live, number: str, fields=("purpose",), documents=("identity-proof",)) -> None:
    clerk = officer(live, "web.tvm-clerk", "section_clerk")
    with live.runtime.db.unit_of_work() as session:
        me = session.get(User, clerk.id)
        principal = identity.load_principal(session, me, "bearer")
        app = applications.get(session, principal, number)
        applications.act(
            session,
            principal,
            number,
            action="return",
            comment="The purpose is not clear",
            version=app.version,
            correct=engine.Correct(fields=list(fields), documents=list(documents)),
        )


def test_the_citizen_corrects_what_the_office_asked_for_without_javascript(new_page, live_server, shot, tmp_path):
    page = new_page("en", java_script_enabled=False)
    checker = new_page("en")  # axe needs JavaScript: it checks the same page in a second tab with the same cookies

    def axe_same_page(_page=None) -> None:
        if page.url.endswith("/sign-in"):
            return
        checker.context.add_cookies(page.context.cookies())
        checker.goto(page.url)
        axe_check(checker)

    page.goto("/?body=kl.tvm-corp")
    page.get_by_role("link", name="Sign in", exact=True).click()
    sign_in_citizen(
        page, live_server, MOBILE, send="Send code", code_label="Code from the SMS", sign_in="Sign in", check=axe_same_page
    )
    page.wait_for_url(live_server.url + "/?body=kl.tvm-corp")
    number = _apply_through_services(live_server)
    _returned(live_server, number)

    page.goto(f"/applications/{number}")
    asked = page.get_by_role("region", name="The office asks you to correct")
    text = asked.inner_text()
    assert "The purpose is not clear" in text
    assert "Purpose of the certificate" in text
    assert "Identity document" in text
    axe_same_page()
    shot(page, "en-correction-1-track")

    page.get_by_role("link", name="Correct your details").click()
    page.wait_for_url(f"**/applications/{number}/correct")
    assert page.get_by_label("Name of the resident").count() == 0  # only what the office asked for
    page.get_by_label("Purpose of the certificate").fill("Passport renewal")
    axe_same_page()
    page.get_by_role("button", name="Save corrections").click()
    page.wait_for_url(f"**/applications/{number}?corrected=1")
    assert "Your corrections are saved." in page.locator(".notice").inner_text()
    assert "Details corrected" in page.locator("main").inner_text()

    page.get_by_role("link", name="Replace or remove documents").click()
    page.wait_for_url(f"**/applications/{number}/documents")
    assert page.get_by_label("File for: Ration card or the ward member's certificate").count() == 0
    upload = tmp_path / "better.pdf"
    upload.write_bytes(tiny_pdf("A clearer copy"))
    label = "File for: Identity document"
    page.get_by_label(label).set_input_files(str(upload))
    with page.expect_navigation():
        page.get_by_label(label).locator("xpath=ancestor::form").get_by_role("button", name="Upload").click()
    assert "The file is uploaded." in page.locator(".notice").inner_text()
    assert page.locator(".files li").count() == 1  # replaced, not added beside the old copy
    axe_same_page()
    shot(page, "en-correction-2-documents")
    page.get_by_role("button", name="Remove Identity document").click()
    page.wait_for_url("**/documents?removed=1")
    assert "Not uploaded yet" in page.locator("main").inner_text()

    page.get_by_role("link", name="Back to the application").click()
    page.get_by_role("button", name="Resubmit").click()
    assert "Upload this document first: Identity document" in page.locator(".error-summary").inner_text()
    assert page.get_by_role("region", name="The office asks you to correct").count() == 1  # still returned: a document is missing

    page.get_by_role("link", name="Replace or remove documents").click()
    page.get_by_label(label).set_input_files(str(upload))
    with page.expect_navigation():
        page.get_by_label(label).locator("xpath=ancestor::form").get_by_role("button", name="Upload").click()
    page.get_by_role("link", name="Back to the application").click()
    page.get_by_role("button", name="Resubmit").click()
    page.wait_for_url(f"**/applications/{number}?done=resubmit")
    main = page.locator("main").inner_text()
    assert "Scrutiny" in main
    for step in ("Details corrected", "Document replaced", "Document removed", "Document added"):
        assert step in main
    axe_same_page()
    shot(page, "en-correction-3-resubmitted")

    with live_server.runtime.db.unit_of_work() as session:
        principal = _principal(live_server, session)
        app = applications.get(session, principal, number)
        assert unseal_data(app)["purpose"] == "Passport renewal"
        assert unseal_data(app)["resident_name"] == "Ravi"
        assert sorted(d.doc_type for d in applications.documents(session, app)) == ["identity-proof", "residence-proof"]


@pytest.mark.parametrize("lang", ["ml", "kn", "hi"])
def test_the_correction_pages_are_in_the_citizens_language(new_page, live_server, lang):
    with live_server.runtime.db.unit_of_work() as session:
        user = make_citizen(session, live_server.runtime, "kl", f"98471002{['ml', 'kn', 'hi'].index(lang)}0")
        citizen = identity.load_principal(session, user, "bearer")
        form = {
            "child_name": "Ammu",
            "sex": "female",
            "date_of_birth": (datetime.now(UTC).date() - timedelta(days=2)).isoformat(),
            "place_of_birth": "home",
            "ward": 7,
            "mother_name": "Lakshmi",
            "informant_relation": "mother",
        }
        app = applications.create(
            session, citizen, tenant="kl.tvm-corp", service_code="birth-registration", data=form, submit=False
        )
        applications.upload(
            session, citizen, app.number, doc_type="parent-id", filename="id.pdf", declared="application/pdf", content=tiny_pdf()
        )
        applications.act(session, citizen, app.number, action="submit", comment=None, version=app.version)
        number = app.number
        cookie = identity.issue_token(session, user, "session")
    _returned(live_server, number, fields=["mother_name", "ward"], documents=["parent-id"])
    page = new_page(lang)
    page.context.add_cookies([{"name": live_server.runtime.settings.session_cookie, "value": cookie, "url": live_server.url}])
    for path in (f"/applications/{number}", f"/applications/{number}/correct", f"/applications/{number}/documents"):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        axe_check(page)
        assert english_left(page, lang) == [], path

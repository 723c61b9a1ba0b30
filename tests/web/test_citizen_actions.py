"""A citizen in Hindi: appeals a rejection from the track page, edits the profile, downloads their data."""

from __future__ import annotations

import json

from sqlalchemy import select

from nagara.applications import service as applications
from nagara.identity import service as identity
from nagara.identity.models import User
from tests.browser import axe_check
from tests.web.helpers import officer, officer_acts, sign_in_citizen, tiny_pdf

MOBILE = "9847100004"


def _apply_through_services(live) -> str:
    with live.runtime.db.unit_of_work() as session:
        number = identity.normalise_mobile(MOBILE)
        user = session.scalar(select(User).where(User.mobile_index == identity.mobile_index(live.runtime, "kl", number)))
        principal = identity.load_principal(session, user, "session")
        app = applications.create(
            session,
            principal,
            tenant="kl.tvm-corp",
            service_code="residence-certificate",
            data={
                "resident_name": "Ravi",
                "building_number": "TC 9/9",
                "ward": 9,
                "residing_since": "2018-04-01",
                "occupancy": "owner",
                "purpose": "Passport",
            },
            submit=False,
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


def test_citizen_appeals_a_rejection_and_manages_their_data_in_hindi(new_page, live_server, shot):
    page = new_page("hi")
    page.goto("/?body=kl.tvm-corp")  # the local body chosen first: the sign-in form then offers Kerala
    page.get_by_role("link", name="साइन इन", exact=True).click()
    assert page.get_by_label("राज्य").input_value() == "kl"
    sign_in_citizen(page, live_server, MOBILE, send="कोड भेजें", code_label="SMS में आया कोड", sign_in="साइन इन")
    page.wait_for_url(live_server.url + "/?body=kl.tvm-corp")
    number = _apply_through_services(live_server)
    officer(live_server, "web.tvm-clerk", "section_clerk")
    officer(live_server, "web.tvm-secretary", "secretary")
    officer_acts(live_server, "web.tvm-clerk", number, "forward")
    officer_acts(live_server, "web.tvm-secretary", number, "reject", comment="Building number not in the register")

    page.goto("/my/applications")
    axe_check(page)
    # The service in Hindi: every pack carries en, ml, kn and hi. The check waits for the page the
    # link opens: run while it loads, axe met a document being replaced (a failure under load).
    with page.expect_navigation():
        page.get_by_role("link", name="निवास प्रमाणपत्र").click()
    axe_check(page)
    assert "Building number not in the register" in page.locator(".timeline").inner_text()
    page.get_by_role("button", name="अपील").click()  # without a reason: asked for one
    assert page.locator("#e-comment-appeal").is_visible()
    axe_check(page)
    page.get_by_label("कारण").fill("The building is in the 2019 register, page 12")
    page.get_by_role("button", name="अपील").click()
    page.wait_for_url("**?done=appeal")
    axe_check(page)
    text = page.locator("main").inner_text()
    assert "पहली अपील" in text
    assert "अपीलीय प्राधिकारी" in text  # the role named in the pack, in Hindi
    shot(page, "hi-01-appealed")

    with page.expect_navigation():
        page.get_by_role("link", name="मेरी प्रोफ़ाइल").click()
    axe_check(page)
    page.get_by_label("आपका नाम").fill("रवि कुमार")
    page.get_by_label("SMS और पत्रों की भाषा").select_option("hi")
    page.get_by_role("button", name="सहेजें").click()
    assert "सहेज लिया गया।" in page.locator(".notice").inner_text()
    assert page.get_by_label("आपका नाम").input_value() == "रवि कुमार"
    with page.expect_download() as download:
        page.get_by_role("link", name="मेरा डेटा डाउनलोड करें (JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["profile"]["name"] == "रवि कुमार"
    assert [a["number"] for a in data["applications"]] == [number]
    assert data["applications"][0]["data"]["purpose"] == "Passport"
    shot(page, "hi-02-profile")

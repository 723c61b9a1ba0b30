"""The portal's standing pages, the acknowledgement and the public status in a browser (issue 12).

One live server and one browser for all of it; every page visited is checked with axe-core.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nagara.applications import service as applications
from nagara.applications.acknowledgement import status_code
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.web.i18n import translations
from tests.browser import LiveServer, axe_check
from tests.conftest import make_citizen
from tests.web.helpers import tiny_pdf

PAGES = ("help", "contact", "accessibility", "privacy", "terms")
TITLES = {
    "help": "Help",
    "contact": "Contact us",
    "accessibility": "Accessibility statement",
    "privacy": "Privacy notice",
    "terms": "Terms of use",
}
MOBILE = "9847300020"


def _citizen_with_a_submitted_application(live: LiveServer) -> tuple[str, str]:
    """The session cookie of a citizen and the number of their submitted birth registration."""
    with live.runtime.db.unit_of_work() as session:
        number = identity.normalise_mobile(MOBILE)
        user = session.scalar(select(User).where(User.mobile_index == identity.mobile_index(live.runtime, "kl", number)))
        if user is None:
            user = make_citizen(session, live.runtime, "kl", MOBILE)
        principal = identity.load_principal(session, user, "session")
        app = applications.create(
            session,
            principal,
            tenant="kl.tvm-corp",
            service_code="birth-registration",
            data={
                "child_name": "Nila Private",
                "sex": "female",
                "date_of_birth": "2026-11-30",
                "place_of_birth": "home",
                "mother_name": "Sree",
                "informant_relation": "mother",
            },
            submit=False,
        )
        applications.upload(
            session,
            principal,
            app.number,
            doc_type="parent-id",
            filename="id.pdf",
            declared="application/pdf",
            content=tiny_pdf(),
        )
        applications.act(session, principal, app.number, action="submit", comment=None, version=app.version)
        return identity.issue_token(session, user, "session"), app.number


def _sign_in(page: Any, live: LiveServer, raw: str) -> None:
    page.context.add_cookies([{"name": live.runtime.settings.session_cookie, "value": raw, "url": live.url}])


def test_the_portal_pages_in_every_language(new_page, live_server, shot):
    # The skip link, at 360 px in Malayalam (taller glyphs), is wholly above the page until focused.
    ml = new_page("ml", viewport={"width": 360, "height": 740})
    ml.goto("/help")
    skip = ml.locator(".skip-link")
    box = skip.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 0, f"the skip link shows {box['y'] + box['height']:.0f} px"
    ml.keyboard.press("Tab")
    focused = skip.bounding_box()
    assert focused is not None
    assert focused["y"] >= 0
    ml.keyboard.press("Enter")
    assert ml.evaluate("document.activeElement.id") == "main"

    # Every standing page, in every language, from the footer of the page before it.
    for lang in ("en", "ml", "kn", "hi", "ur"):
        t = translations(lang)
        page = ml if lang == "ml" else new_page(lang)
        page.goto("/status")
        axe_check(page)
        assert page.get_by_role("heading", level=1).inner_text() == t.gettext("Check the status of an application")
        for name in PAGES:
            footer = page.get_by_role("navigation", name=t.gettext("About this portal"))
            footer.get_by_role("link", name=t.gettext(TITLES[name]), exact=True).click()
            page.wait_for_url(f"**/{name}")
            assert page.get_by_role("heading", level=1).inner_text() == t.gettext(TITLES[name])
            assert page.locator("html").get_attribute("lang") == lang
            axe_check(page)
        shot(page, f"{lang}-portal-terms")

    # The acknowledgement from the application's page; its code opens the public status, signed out.
    raw, number = _citizen_with_a_submitted_application(live_server)
    hi = new_page("hi")
    _sign_in(hi, live_server, raw)
    hi.goto(f"/applications/{number}")
    hi.get_by_role("link", name="पावती पर्ची").click()
    hi.wait_for_url(f"**/applications/{number}/acknowledgement")
    axe_check(hi)
    main = hi.locator("main").inner_text()
    assert number in main and "प्राप्त दस्तावेज़" in main and "id.pdf" in main
    hi.emulate_media(media="print")
    assert not hi.locator(".site-header").is_visible()
    assert not hi.locator(".site-footer").is_visible()
    assert hi.get_by_role("heading", level=1).is_visible()
    shot(hi, "hi-acknowledgement-print")
    hi.emulate_media(media="screen")

    kn = new_page("kn")
    kn.goto("/status")
    kn.get_by_label("ಅರ್ಜಿ ಸಂಖ್ಯೆ").fill(number)
    kn.get_by_label("ಸ್ಥಿತಿ ಕೋಡ್").fill("AAAA-AAAA")
    kn.get_by_role("button", name="ಸ್ಥಿತಿ ತಿಳಿಯಿರಿ").click()
    assert kn.locator(".error-summary").is_visible()
    axe_check(kn)
    kn.get_by_label("ಸ್ಥಿತಿ ಕೋಡ್").fill(status_code(live_server.runtime.secret, number))
    kn.get_by_role("button", name="ಸ್ಥಿತಿ ತಿಳಿಯಿರಿ").click()
    kn.get_by_role("heading", level=1).filter(has_text=number).wait_for()
    axe_check(kn)
    text = kn.locator("main").inner_text()
    assert "Nila Private" not in text and "Sree" not in text and "id.pdf" not in text
    shot(kn, "kn-public-status")


def test_the_birth_form_without_javascript_asks_only_what_applies(new_page, live_server):
    raw, _number = _citizen_with_a_submitted_application(live_server)
    page = new_page("en", java_script_enabled=False)
    _sign_in(page, live_server, raw)
    page.goto("/apply/kl.tvm-corp/birth-registration")
    page.get_by_role("button", name="Save and continue").click()
    summary = page.locator(".error-summary")
    assert "Sex" in summary.inner_text()
    assert "Name of the hospital" not in summary.inner_text()  # no place of birth given: it does not apply yet
    summary.get_by_role("link", name="Sex:").click()
    assert page.evaluate("location.hash") == "#f-sex"
    assert page.locator("#f-sex").get_attribute("type") == "radio"
    page.get_by_label("Place of birth").select_option("hospital")
    page.get_by_role("button", name="Save and continue").click()
    assert "Name of the hospital" in page.locator(".error-summary").inner_text()
    page.locator(".error-summary").get_by_role("link", name="Name of the hospital:").click()
    assert page.evaluate("location.hash") == "#f-hospital_name"

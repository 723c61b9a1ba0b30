"""The public and officer dashboards in a browser, in English and Malayalam: headings, the charts'
text alternatives, the tables, the drill-down, axe-core clean, a 360 px phone; screenshots."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from nagara.analytics import rollups
from nagara.applications.models import Application
from nagara.web.i18n import translations
from tests.browser import LiveServer, axe_check
from tests.officer import setup
from tests.officer.test_workbench_pages import sign_in

BODY = "kl.kozhikode-corp"  # a body no other browser test applies to


def t(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


@pytest.fixture(scope="module")
def folded(live_server: LiveServer) -> LiveServer:
    """Two applications submitted at the body and folded into the rollups (the worker folds too)."""
    rt = live_server.runtime
    numbers = []
    for i, mobile in enumerate(("9847310001", "9847310002")):
        number = setup.submitted(
            rt,
            mobile=mobile,
            state="kl",
            body=BODY,
            service="birth-registration",
            data=setup.kerala_birth(),
            documents={"birth-report": (f"report{i}.png", setup.png()), "parent-id": ("id.pdf", setup.PDF)},
        )
        numbers.append(number)
    with rt.db.unit_of_work() as s:  # these two only: other tests' counts on this server stay as they are
        rollups.refold(s, list(s.scalars(select(Application.id).where(Application.number.in_(numbers)))))
    return live_server


@pytest.mark.parametrize("lang", ["en", "ml"])
def test_the_public_dashboard(new_page: Any, folded: LiveServer, shot: Any, lang: str) -> None:
    page = new_page(lang)
    page.goto("/dashboard?place=kl")
    assert page.get_by_role("heading", level=1).inner_text().startswith(t(lang, "Service levels: %(place)s").split("%")[0])
    assert page.get_by_role("figure").count() == 2  # the two charts, each with a caption (or a word that it is empty)
    assert page.get_by_role("heading", name=t(lang, "By place, ranked by the Institution Level Index")).is_visible()
    axe_check(page)
    shot(page, f"dashboard-state-{lang}")
    page.goto(f"/dashboard?place={BODY}")
    assert page.get_by_role("heading", name=t(lang, "By service")).is_visible()
    assert "< 5" in page.locator("main").inner_text()  # two received: suppressed
    axe_check(page)
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # wide tables scroll inside their region
    axe_check(page)
    shot(page, f"dashboard-body-phone-{lang}")


@pytest.mark.parametrize("lang", ["en", "ml"])
def test_the_officer_dashboard(new_page: Any, folded: LiveServer, shot: Any, lang: str) -> None:
    username = f"dash.kkd.secretary.{lang}"  # one officer per language: a TOTP code signs in once
    setup.officer(folded.runtime, username, "kl", BODY, ["secretary"])
    page = new_page(lang)
    labels = {
        k: t(lang, v)
        for k, v in {"username": "Username", "password": "Password", "totp": "Authenticator code", "sign_in": "Sign in"}.items()
    }
    sign_in(page, username, labels)
    page.get_by_role("link", name=t(lang, "Dashboard"), exact=True).click()
    page.wait_for_url("**/officer/dashboard*")
    assert page.get_by_role("heading", name=t(lang, "By service")).is_visible()
    text = page.locator("main").inner_text()
    assert t(lang, "Approved") in text  # officers see what the public does not, unsuppressed
    axe_check(page)
    shot(page, f"officer-dashboard-{lang}")
    with page.expect_download() as download:
        page.get_by_role("link", name=t(lang, "Download this table (CSV)")).first.click()
    assert download.value.suggested_filename.endswith(".csv")

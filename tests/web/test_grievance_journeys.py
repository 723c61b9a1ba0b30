"""A grievance in the browser, in Malayalam and in Kannada: the citizen files it through the pages,
the officer resolves it with a photo, the citizen rates it; every page axe-core clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nagara.identity import service as identity
from nagara.identity.models import User
from tests.browser import LiveServer, axe_check
from tests.conftest import make_citizen
from tests.grievances.helpers import jpeg_with_gps
from tests.web.helpers import officer

BODY = "kl.tvm-corp"
TEXTS = {
    "ml": {
        "category": "തെരുവുവിളക്ക് കത്തുന്നില്ല",
        "what": "എന്താണ് പ്രശ്നം?",
        "address": "വിലാസം അല്ലെങ്കിൽ അടയാളം",
        "problem": "രാത്രി കത്തുന്നില്ല",
        "file": "പരാതി സമർപ്പിക്കുക",
        "assigned": "ഉദ്യോഗസ്ഥനെ ചുമതലപ്പെടുത്തി",
        "note": "ചെയ്തത്",
        "photo": "ചെയ്ത ജോലിയുടെ ഫോട്ടോ",
        "resolve": "പരിഹരിക്കുക",
        "send_rating": "വിലയിരുത്തൽ അയയ്ക്കുക",
        "closed": "അവസാനിപ്പിച്ചു",
    },
    "kn": {
        "category": "ಬೀದಿ ದೀಪ ಕೆಟ್ಟಿದೆ",
        "what": "ಏನು ಸಮಸ್ಯೆ?",
        "address": "ವಿಳಾಸ ಅಥವಾ ಗುರುತು",
        "problem": "ರಾತ್ರಿ ಉರಿಯುತ್ತಿಲ್ಲ",
        "file": "ದೂರು ಸಲ್ಲಿಸು",
        "assigned": "ಅಧಿಕಾರಿಗೆ ನಿಯೋಜಿಸಲಾಗಿದೆ",
        "note": "ಮಾಡಿದ್ದು",
        "photo": "ಮಾಡಿದ ಕೆಲಸದ ಫೋಟೋ",
        "resolve": "ಪರಿಹರಿಸಿ",
        "send_rating": "ರೇಟಿಂಗ್ ಕಳುಹಿಸಿ",
        "closed": "ಮುಕ್ತಾಯಗೊಂಡಿದೆ",
    },
}


def _session(live: LiveServer, user_id: str) -> str:
    with live.runtime.db.unit_of_work() as s:
        user = s.get(User, user_id)
        assert user is not None
        return identity.issue_token(s, user, "session")


def _signed_in(new_page: Any, live: LiveServer, lang: str, user_id: str) -> Any:
    page = new_page(lang)
    page.context.add_cookies([{"name": live.runtime.settings.session_cookie, "value": _session(live, user_id), "url": live.url}])
    return page


@pytest.mark.parametrize(("lang", "mobile"), [("ml", "9847300001"), ("kn", "9847300002")])
def test_a_grievance_filed_resolved_and_rated_in_the_citizens_language(
    new_page: Any, live_server: LiveServer, tmp_path: Path, lang: str, mobile: str
) -> None:
    t = TEXTS[lang]
    with live_server.runtime.db.unit_of_work() as s:
        citizen = s.scalar(
            select(User.id).where(
                User.mobile_index == identity.mobile_index(live_server.runtime, "kl", identity.normalise_mobile(mobile))
            )
        )
        citizen = citizen or make_citizen(s, live_server.runtime, "kl", mobile).id
    l1 = officer(live_server, "web.grv.officer", "officer", BODY)

    page = _signed_in(new_page, live_server, lang, citizen)
    page.goto(f"/grievances/{BODY}/new")
    assert page.locator("html").get_attribute("lang") == lang
    axe_check(page)
    page.get_by_role("link", name=t["category"]).click()
    page.wait_for_url(f"**/grievances/{BODY}/new/streetlight")
    axe_check(page)
    page.get_by_label(t["what"]).fill(f"Three lights off near the bus stop ({lang})")
    page.get_by_label(t["address"]).fill("Statue junction")
    page.get_by_label(t["problem"]).check()
    page.get_by_role("button", name=t["file"]).click()
    page.wait_for_url("**/my/grievances/*")
    axe_check(page)
    assert t["assigned"] in page.content()
    number = page.url.rsplit("/", 1)[1]

    work = _signed_in(new_page, live_server, lang, l1.id)
    work.goto("/officer/grievances")
    axe_check(work)
    work.get_by_role("link", name=number).click()
    work.wait_for_url(f"**/officer/grievances/{number}")
    axe_check(work)
    work.get_by_label(t["note"]).fill("Replaced the three lamps")
    photo = tmp_path / "after.jpg"
    photo.write_bytes(jpeg_with_gps())
    work.get_by_label(t["photo"]).set_input_files(str(photo))
    work.get_by_role("button", name=t["resolve"]).click()
    work.wait_for_url(f"**/officer/grievances/{number}")
    axe_check(work)

    page.goto(f"/my/grievances/{number}")
    axe_check(page)
    page.get_by_label("4", exact=True).check()
    page.get_by_role("button", name=t["send_rating"]).click()
    page.wait_for_url(f"**/my/grievances/{number}")
    axe_check(page)
    assert "4 / 5" in page.content() and t["closed"] in page.content()

"""A grievance in the browser, in Malayalam and in Kannada: the citizen files it through the pages,
the officer resolves it with a photo, the citizen rates it; every page axe-core clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nagara.ai.models import AiLabel, AiModel
from nagara.grievances import service as grievances
from nagara.grievances.models import GrievanceTriage
from nagara.identity import service as identity
from nagara.identity.models import User
from nagara.kit.db import utcnow
from tests.browser import LiveServer, axe_check
from tests.conftest import make_citizen
from tests.grievances.helpers import jpeg_with_gps
from tests.grievances.test_assist import kerala_model
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


ASSIST = {
    "ml": {"suggested": "സഹായി നിർദ്ദേശിച്ചത്", "weighed": "ഏറ്റവും സ്വാധീനിച്ച വാക്കുകൾ", "correct": "വിഭാഗം സ്ഥിരീകരിക്കുക അല്ലെങ്കിൽ തിരുത്തുക",
           "save": "വിഭാഗം സൂക്ഷിക്കുക", "decided": "ഉദ്യോഗസ്ഥൻ തീരുമാനിച്ച വിഭാഗം", "one_of_these": "ഇവയിൽ ഒന്നാണോ?", "file": "പരാതി സമർപ്പിക്കുക", "me_too": "എന്നെയും ചേർക്കുക"},
    "en": {"suggested": "Suggested by the assistant", "weighed": "Words that weighed most", "correct": "Confirm or correct the category",
           "save": "Save the category", "decided": "Category decided by an officer", "one_of_these": "Is it one of these?", "file": "File the grievance", "me_too": "Add me too"},
}  # fmt: skip


@pytest.mark.parametrize(("lang", "mobiles"), [("ml", ("9847300011", "9847300012")), ("en", ("9847300021", "9847300022"))])
def test_the_officer_sees_the_suggestion_and_why_and_corrects_it_the_citizen_adds_me_too(
    new_page: Any, live_server: LiveServer, lang: str, mobiles: tuple[str, str]
) -> None:
    t = ASSIST[lang]
    place = f"Kuzhivila {lang} junction"  # a place of each run's own: the two runs' grievances are not duplicates
    model = kerala_model()
    with live_server.runtime.db.unit_of_work() as s:
        row = AiModel(state_code="kl", task="triage", version=model.version, examples=model.trained_on, model=model.to_bytes())
        s.add(row)
        s.flush()
        model_row = row.id
        people = []
        for mobile in mobiles:
            found = s.scalar(
                select(User.id).where(User.mobile_index == identity.mobile_index(live_server.runtime, "kl", identity.normalise_mobile(mobile)))
            )
            people.append(found or make_citizen(s, live_server.runtime, "kl", mobile).id)
        filer = identity.load_principal(s, s.get(User, people[0]), "bearer")  # type: ignore[arg-type]
        filing = grievances.Filing(BODY, "waste-not-collected", f"Waste not collected near {place} for a week",
                                   grievances.Where(None, place), {"waste_kind": "household"})  # fmt: skip
        number = grievances.file(s, filer, filing, now=utcnow(), channel="portal").number
    try:
        # Another citizen about to file the same problem is asked "is it one of these?", and adds themself.
        page = _signed_in(new_page, live_server, lang, people[1])
        page.goto(f"/grievances/{BODY}/new/waste-not-collected")
        page.locator("#f-description").fill(f"Garbage heap near {place}, nobody collects it")
        page.locator("#f-address").fill(place)
        page.locator("#attr-waste_kind-household").check()
        page.get_by_role("button", name=t["file"]).click()
        page.get_by_role("heading", name=t["one_of_these"]).wait_for()
        axe_check(page)
        page.get_by_role("listitem").filter(has_text=number).get_by_role("button", name=t["me_too"]).click()
        page.wait_for_url(f"**/grievances/public/{number}")

        # The officer sees the suggestion and the words that weighed most, and corrects the category.
        l1 = officer(live_server, "web.grv.officer", "officer", BODY)
        work = _signed_in(new_page, live_server, lang, l1.id)
        work.goto(f"/officer/grievances/{number}")
        content = work.content()
        assert t["suggested"] in content and t["weighed"] in content
        axe_check(work)
        work.get_by_label(t["correct"]).select_option("public-toilet")
        work.get_by_role("button", name=t["save"]).click()
        work.wait_for_url(f"**/officer/grievances/{number}")
        assert t["decided"] in work.content()
        axe_check(work)
        with live_server.runtime.db.unit_of_work(readonly=True) as s:
            g = grievances.get(s, number)
            triage = s.get(GrievanceTriage, g.id)
            assert triage is not None and triage.decided_category == "public-toilet"
            label = s.get(AiLabel, triage.label_id)
            assert label is not None and label.label == "public-toilet"
            assert g.supporters == 1
    finally:
        with live_server.runtime.db.unit_of_work() as s:  # triage off again for the other browser tests
            s.delete(s.get(AiModel, model_row))

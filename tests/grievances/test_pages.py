"""The grievance pages in the citizen's language: file (seeing open ones like it), follow, rate;
the officer's inbox and resolution with a photo; the public list without personal data."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import People
from tests.grievances.helpers import jpeg_with_gps
from tests.officer.helpers import csrf_of, sign_in


def test_a_citizen_files_in_malayalam_the_officer_resolves_and_the_citizen_rates(client: TestClient, people: People) -> None:
    sign_in(client, people, "citizen1")
    client.cookies.set("nagara_lang", "ml")
    choose = client.get(f"/grievances/{people.body_a}/new")
    assert choose.status_code == 200 and "മാലിന്യം ശേഖരിച്ചില്ല" in choose.text and 'lang="ml"' in choose.text
    form = client.get(f"/grievances/{people.body_a}/new/waste-not-collected")
    assert form.status_code == 200 and "എന്താണ് പ്രശ്നം?" in form.text
    token = csrf_of(form.text)
    missing = client.post(
        f"/grievances/{people.body_a}/new/waste-not-collected",
        data={"csrf_token": token, "description": "Waste", "address": "Market"},
    )
    assert missing.status_code == 422 and "waste_kind" in missing.text
    filed = client.post(
        f"/grievances/{people.body_a}/new/waste-not-collected",
        data={
            "csrf_token": token,
            "description": "Waste near the market",
            "address": "Market road",
            "attr-waste_kind": "household",
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text
    number = filed.headers["location"].rsplit("/", 1)[1]
    mine = client.get(f"/my/grievances/{number}")
    assert mine.status_code == 200 and "ഉദ്യോഗസ്ഥനെ ചുമതലപ്പെടുത്തി" in mine.text

    # Another citizen sees it before filing the same, and says "me too".
    client.cookies.clear()
    sign_in(client, people, "citizen2")
    again = client.get(f"/grievances/{people.body_a}/new/waste-not-collected")
    assert number in again.text
    supported = client.post(f"/grievances/{number}/me-too", data={"csrf_token": csrf_of(again.text)}, follow_redirects=False)
    assert supported.status_code == 303

    client.cookies.clear()
    sign_in(client, people, "a_officer")
    client.cookies.set("nagara_lang", "ml")
    inbox = client.get("/officer/grievances")
    assert inbox.status_code == 200 and number in inbox.text
    page = client.get(f"/officer/grievances/{number}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    resolved = client.post(
        f"/officer/grievances/{number}",
        data={"csrf_token": csrf_of(page.text), "action": "resolve", "version": version, "comment": "Cleared this morning"},
        files={"photo": ("after.jpg", jpeg_with_gps(), "image/jpeg")},
        follow_redirects=False,
    )
    assert resolved.status_code == 303, resolved.text

    client.cookies.clear()
    sign_in(client, people, "citizen1")
    client.cookies.set("nagara_lang", "kn")
    page = client.get(f"/my/grievances/{number}")
    assert "ಎಷ್ಟು ಚೆನ್ನಾಗಿ ಪರಿಹರಿಸಲಾಯಿತು?" in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    rated = client.post(
        f"/my/grievances/{number}",
        data={"csrf_token": csrf_of(page.text), "action": "rate", "version": version, "rating": "5", "comment": "Good"},
        follow_redirects=False,
    )
    assert rated.status_code == 303
    assert "5 / 5" in client.get(f"/my/grievances/{number}").text

    public = client.get(f"/grievances/{people.body_a}")
    assert number in public.text and "9847000001" not in public.text

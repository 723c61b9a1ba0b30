"""The officer's grievance pages: transfer (with the reason), merge into the grievance it duplicates and
assign several together to a field officer; each refusal said in the officer's language, nothing kept."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.grievances.models import Grievance
from tests.conftest import People
from tests.grievances.test_api import _file
from tests.officer.helpers import csrf_of, sign_in


def _row(people: People, number: str) -> Grievance:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        g = s.scalar(select(Grievance).where(Grievance.number == number))
        assert g is not None
        s.expunge(g)
        return g


def _version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]


def _filed(client: TestClient, people: People) -> str:
    filed = _file(client, people)
    assert filed.status_code == 201, filed.text
    return str(filed.json()["number"])


def test_an_officer_transfers_a_grievance_to_another_department_with_the_reason(client: TestClient, people: People) -> None:
    number = _filed(client, people)
    sign_in(client, people, "a_officer")
    client.cookies.set("nagara_lang", "ml")
    page = client.get(f"/officer/grievances/{number}")
    assert page.status_code == 200
    assert "മറ്റൊരു വകുപ്പിലേക്കോ തദ്ദേശ സ്ഥാപനത്തിലേക്കോ കൈമാറുക" in page.text and 'name="to_category"' in page.text
    form = {"csrf_token": csrf_of(page.text), "do": "transfer", "version": _version(page.text)}

    no_reason = client.post(f"/officer/grievances/{number}", data={**form, "to_category": "streetlight"})
    assert no_reason.status_code == 422 and "കാരണം എഴുതുക" in no_reason.text
    same = client.post(f"/officer/grievances/{number}", data={**form, "to_category": "waste-not-collected", "comment": "Wrong"})
    assert same.status_code == 422 and "കൈമാറാൻ മറ്റൊരു വകുപ്പിന്റെ" in same.text
    assert "Wrong" in same.text  # what was typed stays in the form
    nowhere = client.post(
        f"/officer/grievances/{number}",
        data={**form, "to_category": "streetlight", "to_local_body": "kl.no-such-body", "comment": "Wrong body"},
    )
    assert nowhere.status_code == 404 and "ഒന്നും കണ്ടെത്തിയില്ല" in nowhere.text
    assert _row(people, number).category_code == "waste-not-collected"  # nothing kept

    no_csrf = client.post(
        f"/officer/grievances/{number}", data={**form, "csrf_token": "", "to_category": "streetlight", "comment": "Electrical"}
    )
    assert no_csrf.status_code == 403
    moved = client.post(
        f"/officer/grievances/{number}",
        data={**form, "to_category": "streetlight", "comment": "A streetlight, not waste"},
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text
    g = _row(people, number)
    assert (g.category_code, g.department, g.level, g.state) == ("streetlight", "electrical", 1, "assigned")
    stale = client.post(
        f"/officer/grievances/{number}", data={**form, "to_category": "road-pothole", "comment": "Again"}
    )  # the version of the page before the transfer
    assert stale.status_code == 412 and "മറ്റാരോ ഈ പരാതി മാറ്റി" in stale.text


def test_an_officer_merges_a_duplicate_into_the_open_grievance_it_repeats(client: TestClient, people: People) -> None:
    first, second = _filed(client, people), _filed(client, people)
    sign_in(client, people, "a_officer")
    client.cookies.set("nagara_lang", "kn")
    page = client.get(f"/officer/grievances/{second}")
    assert "ಇದು ಪುನರಾವರ್ತಿಸುವ ದೂರಿನೊಂದಿಗೆ ವಿಲೀನಗೊಳಿಸಿ" in page.text
    form = {"csrf_token": csrf_of(page.text), "do": "merge", "version": _version(page.text)}
    unknown = client.post(f"/officer/grievances/{second}", data={**form, "into": "KL-NO-SUCH"})
    assert unknown.status_code == 422 and "ತೆರೆದಿರುವ ಇನ್ನೊಂದು ದೂರಿನ ಸಂಖ್ಯೆಯನ್ನು" in unknown.text
    itself = client.post(f"/officer/grievances/{second}", data={**form, "into": second})
    assert itself.status_code == 422
    assert _row(people, second).merged_into_id is None
    merged = client.post(f"/officer/grievances/{second}", data={**form, "into": first}, follow_redirects=False)
    assert merged.status_code == 303, merged.text
    dup, kept = _row(people, second), _row(people, first)
    assert (dup.merged_into_id, dup.state, dup.outcome, dup.is_open) == (kept.id, "closed", "merged", False)
    assert kept.is_open


def test_an_officer_assigns_several_grievances_to_a_field_officer_all_or_none(client: TestClient, people: People) -> None:
    one, two = _filed(client, people), _filed(client, people)
    before = _row(people, one).assigned_to_id  # the level's officer, given at filing
    sign_in(client, people, "a_officer")
    client.cookies.set("nagara_lang", "hi")
    inbox = client.get("/officer/grievances")
    assert inbox.status_code == 200 and "चुनी गई शिकायतें इन्हें सौंपें" in inbox.text
    field_officer = people.users["a_section_clerk"].id
    assert f'<option value="{field_officer}">' in inbox.text
    assert f'<option value="{people.users["b_officer"].id}">' not in inbox.text  # another body's officer
    token = csrf_of(inbox.text)

    nothing = client.post("/officer/grievances/bulk-assign", data={"csrf_token": token, "to_user": field_officer})
    assert nothing.status_code == 422 and "कम से कम एक शिकायत चुनें" in nothing.text
    nobody = client.post("/officer/grievances/bulk-assign", data={"csrf_token": token, "numbers": [one, two]})
    assert nobody.status_code == 422 and "सक्रिय अधिकारी को चुनें" in nobody.text
    assert f'value="{one}" checked' in nobody.text  # the ticks stay
    elsewhere = client.post(
        "/officer/grievances/bulk-assign",
        data={"csrf_token": token, "numbers": [one, two], "to_user": people.users["b_officer"].id},
    )
    assert elsewhere.status_code == 422
    missing = client.post(
        "/officer/grievances/bulk-assign", data={"csrf_token": token, "numbers": [one, "KL-NO-SUCH"], "to_user": field_officer}
    )
    assert missing.status_code == 404
    assert _row(people, one).assigned_to_id == before != people.users["a_section_clerk"].id  # all or none
    no_csrf = client.post("/officer/grievances/bulk-assign", data={"numbers": [one, two], "to_user": field_officer})
    assert no_csrf.status_code == 403

    done = client.post(
        "/officer/grievances/bulk-assign",
        data={"csrf_token": token, "numbers": [one, two], "to_user": field_officer},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "2 शिकायत(ें) सौंपी गईं" in client.get(done.headers["location"]).text
    assert _row(people, one).assigned_to_id == _row(people, two).assigned_to_id == field_officer

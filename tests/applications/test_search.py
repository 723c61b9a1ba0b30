"""Searching applications by a person's name or mobile number: keyed hashes of the sealed form."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from nagara.applications.data import reindex
from nagara.applications.models import SearchTerm
from nagara.applications.search import NAME_SOUND, name_sound, name_tokens
from tests.applications.helpers import apply, birth_form
from tests.conftest import People


def found(client: TestClient, people: People, who: str, **params: str) -> list[str]:
    response = client.get("/api/v1/applications", params=params, headers=people.headers(who))
    assert response.status_code == 200, response.text
    return [a["number"] for a in response.json()]


def test_names_are_normalised_in_every_script() -> None:
    assert name_tokens("  Anna   MARIYA-Joseph ") == ["anna", "mariya", "joseph"]
    assert name_tokens("D'Souza, Anna") == ["d", "souza", "anna"]
    # Malayalam: a chillu written with a zero-width joiner is the atomic chillu; other joiners go
    assert name_tokens("അരുണ്\u200d") == name_tokens("അരുൺ") == ["അരുൺ"]
    assert name_tokens("ശ്രീ\u200cലക്ഷ്മി") == name_tokens("ശ്രീലക്ഷ്മി")
    # Hindi: NFC, whatever the keyboard sent (क़ as one code point or as क + nukta)
    assert name_tokens("\u0958ादिर") == name_tokens("\u0915\u093cादिर")
    # Kannada: vowel signs and viramas stay inside the word
    assert name_tokens("ಕಾವ್ಯಾ ಲಕ್ಷ್ಮಿ") == ["ಕಾವ್ಯಾ", "ಲಕ್ಷ್ಮಿ"]
    assert name_tokens("ÅNGSTRÖM straße") == ["ångström", "strasse"]


def test_a_name_sounds_the_same_in_every_script_the_transliteration_knows() -> None:
    for spellings in (
        ("Anjali", "അഞ്ജലി", "ಅಂಜಲಿ", "अंजलि"),
        ("Sreelakshmi", "ശ്രീലക്ഷ്മി", "ಶ್ರೀಲಕ್ಷ್ಮಿ", "श्रीलक्ष्मी"),
        ("Krishna", "കൃഷ്ണ", "ಕೃಷ್ಣ", "कृष्ण"),
        ("Vishnu", "വിഷ്ണു", "ವಿಷ್ಣು"),
        ("Kumar", "കുമാർ", "ಕುಮಾರ್", "कुमार"),
        ("Joseph", "ജോസഫ്"),
        ("Mohammed", "മുഹമ്മദ്"),
        ("Kadir", "क़ादिर", "कादिर"),
        ("Jyothi", "ജ്യോതി", "ज्योति"),
    ):
        sounds = {name_sound(t) for spelling in spellings for t in name_tokens(spelling)}
        assert len(sounds) == 1 and "" not in sounds, (spellings, sounds)
    assert name_sound("Anjali") != name_sound("Anjana") != name_sound("Arun")
    assert name_sound("ångström") == name_sound("angstrom")
    assert name_sound("زبیدہ") == ""  # Urdu: no transliteration here, found as written only


def test_a_name_typed_in_latin_letters_finds_one_written_in_malayalam_kannada_or_devanagari_and_back(
    client: TestClient, people: People
) -> None:
    malayalam = _apply(client, people, child_name="അഞ്ജലി മേനോൻ", mother_name="ലക്ഷ്മി")["number"]
    latin = _apply(client, people, child_name="Sreelakshmi Krishna", mother_name="Mary Joseph")["number"]
    for words in ("Anjali", "anjali menon", "ಅಂಜಲಿ", "अंजलि", "അഞ്ജലി"):
        assert found(client, people, "a_section_clerk", name=words) == [malayalam], words
    for words in ("ശ്രീലക്ഷ്മി", "ಶ್ರೀಲಕ್ಷ್ಮಿ", "श्रीलक्ष्मी കൃഷ്ണ", "ജോസഫ്", "മേരി"):
        assert found(client, people, "a_section_clerk", name=words) == [latin], words
    assert found(client, people, "a_section_clerk", name="lakshmi") == [malayalam]
    for words in ("Anj", "Anjana", "Anjali Krishna", "ശ്രീ"):  # still whole words, every one of them
        assert found(client, people, "a_section_clerk", name=words) == [], words
    for who in ("b_section_clerk", "ka_secretary"):  # and still within the jurisdiction
        assert found(client, people, who, name="Anjali") == [], who


def test_an_application_indexed_before_the_sounds_is_found_as_written_until_reindexed(
    client: TestClient, people: People
) -> None:
    number = _apply(client, people, child_name="അഞ്ജലി")["number"]
    sound = people.runtime.cipher.blind_index(name_sound("Anjali"), purpose=NAME_SOUND)
    with people.runtime.db.unit_of_work() as s:
        assert s.execute(delete(SearchTerm).where(SearchTerm.digest == sound)).rowcount == 1  # type: ignore[attr-defined]
    assert found(client, people, "a_section_clerk", name="അഞ്ജലി") == [number]
    assert found(client, people, "a_section_clerk", name="Anjali") == []
    last = ""
    while last is not None:
        with people.runtime.db.unit_of_work() as s:
            _, after = reindex(s, after=last, batch=50)
        last = after  # type: ignore[assignment]
    assert found(client, people, "a_section_clerk", name="Anjali") == [number]


def _apply(client: TestClient, people: People, **names: Any) -> dict[str, Any]:
    return apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(**names), submit=False)


def test_an_officer_finds_by_any_one_word_of_a_name_within_the_jurisdiction(client: TestClient, people: People) -> None:
    app = _apply(client, people, child_name="Anna Mariya Joseph", mother_name="മേരി ജോസഫ്")
    other = _apply(client, people, child_name="Annamma", mother_name="Lakshmi")
    number = app["number"]
    for words in ("anna", "MARIYA", "joseph", "Joseph Anna", "ജോസഫ്", "  mariya  "):
        assert found(client, people, "a_section_clerk", name=words) == [number], words
    # whole words only, every one of them ("Ann" would find "Anna": they sound alike, see below)
    for words in ("Jos", "Mariyam", "Anna Lakshmi", "ജോസ"):
        assert found(client, people, "a_section_clerk", name=words) == [], words
    assert found(client, people, "a_section_clerk", name="annamma") == [other["number"]]
    # outside the jurisdiction: an officer of the other corporation, and of another state, find nothing
    for who in ("b_section_clerk", "b_secretary", "ka_secretary"):
        assert found(client, people, who, name="anna") == [], who
        assert found(client, people, who, mobile="9847000001") == [], who
    # the state's administrator reaches every body of the state; the applicant their own
    assert number in found(client, people, "kl_admin", name="Anna")
    assert found(client, people, "citizen1", name="anna") == [number]
    assert found(client, people, "citizen2", name="anna") == []


def test_an_officer_finds_by_the_applicants_mobile_number(client: TestClient, people: People) -> None:
    app = _apply(client, people, child_name="Mobile Test")
    for written in ("9847000001", "+91 98470 00001", "098470-00001"):
        assert app["number"] in found(client, people, "a_section_clerk", mobile=written), written
    assert app["number"] not in found(client, people, "a_section_clerk", mobile="9847000002")
    both = found(client, people, "a_section_clerk", mobile="9847000001", name="mobile")
    assert both == [app["number"]]


def test_a_changed_draft_is_found_by_its_new_names_only(client: TestClient, people: People) -> None:
    app = _apply(client, people, child_name="Old Name")
    changed = client.patch(
        f"/api/v1/applications/{app['number']}",
        json={"data": birth_form(child_name="Nandana"), "version": app["version"]},
        headers=people.headers("citizen1"),
    )
    assert changed.status_code == 200, changed.text
    assert found(client, people, "a_section_clerk", name="old") == []
    assert found(client, people, "a_section_clerk", name="nandana") == [app["number"]]
    with people.runtime.db.unit_of_work(readonly=True) as s:
        terms = s.scalar(select(func.count()).select_from(SearchTerm))
    assert terms is not None and terms > 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"name": " -- "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "a b c d e f g h i"}, "name"),
        ({"mobile": "12345"}, "mobile"),
    ],
)
def test_a_search_that_cannot_match_is_refused_naming_the_field(
    client: TestClient, people: People, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/applications", params=params, headers=people.headers("a_section_clerk"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"] == ["query", field]


def test_reindex_writes_the_terms_of_applications_sealed_before_them(client: TestClient, people: People) -> None:
    app = _apply(client, people, child_name="Reindexed Child")
    with people.runtime.db.unit_of_work() as s:
        s.execute(delete(SearchTerm))  # as after the migration: applications without terms
    assert found(client, people, "a_section_clerk", name="reindexed") == []
    last, total = "", 0
    while True:
        with people.runtime.db.unit_of_work() as s:
            count, after = reindex(s, after=last, batch=2)
        if after is None:
            break
        last, total = after, total + count
    assert total >= 1
    assert found(client, people, "a_section_clerk", name="reindexed") == [app["number"]]

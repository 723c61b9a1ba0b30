"""Searching applications by a person's name or mobile number: keyed hashes of the sealed form."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from nagara.applications.data import reindex
from nagara.applications.models import SearchTerm
from nagara.applications.search import name_tokens
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


def _apply(client: TestClient, people: People, **names: Any) -> dict[str, Any]:
    return apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(**names), submit=False)


def test_an_officer_finds_by_any_one_word_of_a_name_within_the_jurisdiction(client: TestClient, people: People) -> None:
    app = _apply(client, people, child_name="Anna Mariya Joseph", mother_name="മേരി ജോസഫ്")
    other = _apply(client, people, child_name="Annamma", mother_name="Lakshmi")
    number = app["number"]
    for words in ("anna", "MARIYA", "joseph", "Joseph Anna", "ജോസഫ്", "  mariya  "):
        assert found(client, people, "a_section_clerk", name=words) == [number], words
    for words in ("Ann", "Mari", "Anna Lakshmi", "ജോസ"):  # whole words only, every one of them
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

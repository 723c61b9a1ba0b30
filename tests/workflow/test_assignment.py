"""A new case goes to the least-loaded active officer holding the step's role at its place."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient

from nagara.identity.models import User
from tests.applications.helpers import PDF, act, apply, birth_form, fetch, upload
from tests.conftest import People, make_officer


def _submit_birth(client: TestClient, people: People) -> str | None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)
    upload(client, people, "citizen1", draft["number"], "birth-report")
    upload(client, people, "citizen1", draft["number"], "parent-id", PDF)
    done = act(client, people, "citizen1", fetch(client, people, "citizen1", draft["number"]), "submit")
    return done["assigned_to"]


def test_cases_are_spread_over_the_active_holders_of_the_role_here(client: TestClient, people: People) -> None:
    first = _submit_birth(client, people)
    assert first == people.users["a_section_clerk"].id
    with people.runtime.db.unit_of_work() as s:
        second = make_officer(s, "a.section_clerk.two", "section_clerk", "kl", people.body_a).id
        away = make_officer(s, "a.section_clerk.away", "section_clerk", "kl", people.body_a)
        away.is_active = False
        away_id = away.id
        elsewhere = make_officer(s, "b.section_clerk.two", "section_clerk", "kl", people.body_b).id
    assigned = Counter(_submit_birth(client, people) for _ in range(3))
    # The new clerk had no open case: two of the three go there, then the two are level.
    assert assigned == Counter({second: 2, people.users["a_section_clerk"].id: 1})
    assert away_id not in assigned and elsewhere not in assigned
    with people.runtime.db.unit_of_work() as s:
        s.get(User, second).is_active = False  # type: ignore[union-attr]
    assert _submit_birth(client, people) == people.users["a_section_clerk"].id

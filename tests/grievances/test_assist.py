"""The assistants on the grievance pages: the triage suggestion and its reasons stored at filing and shown
to the officer, the human triage queue below the threshold, the officer's correction kept and trained on;
"is it one of these? add me too" before filing, and merge candidates for the officer."""

from __future__ import annotations

import re
from functools import cache

from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.ai import service as ai
from nagara.ai import triage as tr
from nagara.ai.models import TRIAGE, AiLabel, AiModel, AiSuggestion
from nagara.grievances.models import Grievance, GrievanceSupporter, GrievanceTriage
from tests.conftest import PACKS, People
from tests.officer.helpers import csrf_of, sign_in

WASTE = "attr-waste_kind"
SURE = "Waste not collected near Pallikkunnu temple for a week"  # waste-not-collected, above the threshold
SURE_ML = "പള്ളിക്കുന്ന് അമ്പലത്തിനടുത്ത് മാലിന്യം എടുത്തിട്ടില്ല"  # the same place and problem in Malayalam
UNSURE = "The swings in the children's park are broken and rusty"  # no category of the pack: below the threshold


@cache
def kerala_model() -> tr.TriageModel:
    """Kerala's triage model, trained from its pack once per test process (training takes seconds)."""
    config = tr.read_config(PACKS / "kl")
    assert config is not None
    return tr.train(tr.read_examples(PACKS / "kl", config), config)


def _install_triage(people: People) -> tr.TriageModel:
    model = kerala_model()
    with people.runtime.db.unit_of_work() as s:
        s.add(AiModel(state_code="kl", task=TRIAGE, version=model.version, examples=model.trained_on, model=model.to_bytes()))
    return model


def _file(client: TestClient, people: People, description: str, **extra: str) -> str:
    form = client.get(f"/grievances/{people.body_a}/new/waste-not-collected")
    data = {"csrf_token": csrf_of(form.text), "description": description, "address": "Temple road", WASTE: "household", **extra}
    filed = client.post(f"/grievances/{people.body_a}/new/waste-not-collected", data=data, follow_redirects=False)
    assert filed.status_code == 303, filed.text
    return filed.headers["location"].rsplit("/", 1)[1]


def _triage(people: People, number: str) -> tuple[GrievanceTriage | None, Grievance]:
    with people.runtime.db.unit_of_work(readonly=True) as s:
        g = s.scalar(select(Grievance).where(Grievance.number == number))
        assert g is not None
        s.expunge(g)
        row = s.get(GrievanceTriage, g.id)
        if row is not None:
            s.expunge(row)
        return row, g


def test_the_suggestion_and_its_reasons_are_stored_at_filing_and_shown_to_the_officer(client: TestClient, people: People) -> None:
    model = _install_triage(people)
    sign_in(client, people, "citizen1")
    number = _file(client, people, SURE)
    row, g = _triage(people, number)
    assert row is not None and row.category == "waste-not-collected" and not row.needs_human
    with people.runtime.db.unit_of_work(readonly=True) as s:
        record = s.get(AiSuggestion, row.suggestion_id)
        assert record is not None and record.subject == f"grievance:{g.id}" and record.model_version == model.version
        reasons = record.output["reasons"]
    assert reasons and set(reasons) <= set(SURE.lower().split())

    client.cookies.clear()
    sign_in(client, people, "a_officer")
    page = client.get(f"/officer/grievances/{number}")
    assert page.status_code == 200
    assert "Suggested by the assistant" in page.text and "Words that weighed most" in page.text
    assert all(f"<q>{w}</q>" in page.text for w in reasons)
    assert model.version in page.text
    client.cookies.set("nagara_lang", "ml")
    page = client.get(f"/officer/grievances/{number}")
    assert "സഹായി നിർദ്ദേശിച്ചത്" in page.text and "ഏറ്റവും സ്വാധീനിച്ച വാക്കുകൾ" in page.text
    assert "Suggested by the assistant" not in page.text


def test_below_the_threshold_it_waits_for_an_officer_whose_correction_is_trained_on(client: TestClient, people: People) -> None:
    _install_triage(people)
    sign_in(client, people, "citizen1")
    number = _file(client, people, UNSURE)
    row, _g = _triage(people, number)
    assert row is not None and row.needs_human and row.decided_at is None

    client.cookies.clear()
    token_b = sign_in(client, people, "b_officer")  # another body's officer: not in their queue, may not decide
    assert number not in client.get("/officer/grievance-triage").text
    refused = client.post(f"/officer/grievances/{number}/triage", data={"csrf_token": token_b, "category": "encroachment"})
    assert refused.status_code == 404
    assert _triage(people, number)[0].decided_at is None  # type: ignore[union-attr]

    client.cookies.clear()
    sign_in(client, people, "a_officer")
    queue = client.get("/officer/grievance-triage")
    assert queue.status_code == 200 and number in queue.text
    page = client.get(f"/officer/grievances/{number}")
    assert "The assistant is not sure of the category: an officer decides it." in page.text
    assert "Suggested category" not in page.text  # no guess below the threshold
    token = csrf_of(page.text)
    wrong = client.post(f"/officer/grievances/{number}/triage", data={"csrf_token": token, "category": "no-such-category"})
    assert wrong.status_code == 422
    decided = client.post(
        f"/officer/grievances/{number}/triage", data={"csrf_token": token, "category": "encroachment"}, follow_redirects=False
    )
    assert decided.status_code == 303, decided.text
    again = client.post(f"/officer/grievances/{number}/triage", data={"csrf_token": token, "category": "streetlight"})
    assert again.status_code == 409
    assert number not in client.get("/officer/grievance-triage").text
    assert "Category decided by an officer" in client.get(f"/officer/grievances/{number}").text

    row, _g = _triage(people, number)
    assert row is not None and row.decided_category == "encroachment" and row.decided_by_id == people.users["a_officer"].id
    with people.runtime.db.unit_of_work() as s:
        label = s.get(AiLabel, row.label_id)
        assert label is not None and label.label == "encroachment" and label.suggestion_id == row.suggestion_id
        assert UNSURE not in label.text_sealed  # sealed
        retrained = ai.train_triage(s, "kl", PACKS / "kl")
        assert retrained.new and retrained.examples["correction"] == 1


def test_without_a_triage_model_filing_goes_on_without_a_suggestion(client: TestClient, people: People) -> None:
    sign_in(client, people, "citizen1")
    number = _file(client, people, SURE)
    assert _triage(people, number)[0] is None
    client.cookies.clear()
    sign_in(client, people, "a_officer")
    page = client.get(f"/officer/grievances/{number}")
    assert page.status_code == 200 and "Suggested by the assistant" not in page.text


def test_a_citizen_is_asked_is_it_one_of_these_and_adds_me_too(client: TestClient, people: People) -> None:
    _install_triage(people)
    sign_in(client, people, "citizen1")
    first = _file(client, people, SURE)
    elsewhere = _file(client, people, "Waste not collected near the fish market in Chalai", file_anyway="1")

    client.cookies.clear()
    sign_in(client, people, "citizen2")
    form = client.get(f"/grievances/{people.body_a}/new/waste-not-collected")
    data = {"csrf_token": csrf_of(form.text), "description": SURE_ML, "address": "Temple road", WASTE: "household"}
    asked = client.post(f"/grievances/{people.body_a}/new/waste-not-collected", data=data, follow_redirects=False)
    assert asked.status_code == 200, asked.text
    candidates = asked.text.split("Is it one of these?", 1)[1].split("</section>", 1)[0]
    assert first in candidates and elsewhere not in candidates
    assert 'name="file_anyway" value="1"' in asked.text and SURE_ML in asked.text  # the typed text is kept
    supported = client.post(f"/grievances/{first}/me-too", data={"csrf_token": csrf_of(asked.text)}, follow_redirects=False)
    assert supported.status_code == 303
    with people.runtime.db.unit_of_work(readonly=True) as s:
        g = s.scalar(select(Grievance).where(Grievance.number == first))
        assert g is not None and g.supporters == 1
        assert s.get(GrievanceSupporter, (g.id, people.users["citizen2"].id)) is not None

    # "None of these": filed after all.
    number = _file(client, people, SURE_ML, file_anyway="1")
    assert number != first
    # The filer is not asked about their own grievances.
    client.cookies.clear()
    sign_in(client, people, "citizen1")
    form = client.get(f"/grievances/{people.body_a}/new/waste-not-collected")
    data = {"csrf_token": csrf_of(form.text), "description": SURE, "address": "Temple road", WASTE: "household"}
    mine = client.post(f"/grievances/{people.body_a}/new/waste-not-collected", data=data, follow_redirects=False)
    assert mine.status_code == 200 and number in mine.text and f">{first}<" not in mine.text.split("Is it one of these?", 1)[1]


def test_the_officer_sees_merge_candidates_and_merges(client: TestClient, people: People) -> None:
    _install_triage(people)
    sign_in(client, people, "citizen1")
    first = _file(client, people, SURE)
    client.cookies.clear()
    sign_in(client, people, "citizen2")
    second = _file(client, people, SURE_ML, file_anyway="1")
    other = _file(client, people, "Waste not collected near the fish market in Chalai", file_anyway="1")

    client.cookies.clear()
    sign_in(client, people, "a_officer")
    page = client.get(f"/officer/grievances/{second}")
    section = page.text.split("Possible duplicates", 1)[1].split("</section>", 1)[0]
    assert first in section and other not in section and "<q>palikun</q>" in section
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    merged = client.post(
        f"/officer/grievances/{second}",
        data={"csrf_token": csrf_of(page.text), "action": "merge", "version": version, "into": first},
        follow_redirects=False,
    )
    assert merged.status_code == 303, merged.text
    with people.runtime.db.unit_of_work(readonly=True) as s:
        g = s.scalar(select(Grievance).where(Grievance.number == second))
        assert g is not None and g.outcome == "merged" and not g.is_open
    assert "Possible duplicates" not in client.get(f"/officer/grievances/{second}").text  # closed: nothing to merge
    first_page = client.get(f"/officer/grievances/{first}").text
    assert "Possible duplicates" not in first_page or second not in first_page.split("Possible duplicates", 1)[1]

"""Erasure on request: a draft goes at once; what is being decided or kept by law is refused with the reason."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nagara.applications.data import unseal_data
from nagara.applications.models import Application, Document
from nagara.runtime import Runtime
from nagara.worker.runner import Worker
from tests.applications.helpers import act, apply, birth_form, fetch, upload
from tests.certificates.helpers import approved_birth
from tests.conftest import People
from tests.officer.helpers import csrf_of, sign_in


def _state(runtime: Runtime, number: str) -> tuple[dict[str, object], int]:
    with runtime.db.unit_of_work(readonly=True) as s:
        app = s.scalar(select(Application).where(Application.number == number))
        assert app is not None
        return unseal_data(app), len(list(s.scalars(select(Document.id).where(Document.application_id == app.id))))


def test_a_draft_is_erased_and_a_register_entry_refused_with_the_reason(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    headers = people.headers("citizen1")
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    upload(client, people, "citizen1", draft, "birth-report")
    pending = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    for code in ("birth-report", "parent-id"):
        upload(client, people, "citizen1", pending, code)
    act(client, people, "citizen1", fetch(client, people, "citizen1", pending), "submit")
    decided = approved_birth(client, people)["number"]

    options = {o["number"]: o["status"] for o in client.get("/api/v1/me/erasure", headers=headers).json()}
    assert options == {draft: "erasable", pending: "withdraw_first", decided: "kept_by_law"}

    refused = client.post("/api/v1/me/erasure", json={"application": decided}, headers=headers)
    assert refused.status_code == 409
    assert "register entry the law" in refused.json()["detail"]
    assert _state(runtime, decided)[0] == birth_form()
    busy = client.post("/api/v1/me/erasure", json={"application": pending}, headers=headers)
    assert busy.status_code == 409 and "withdraw it first" in busy.json()["detail"]

    erased = client.post("/api/v1/me/erasure", json={"application": draft}, headers=headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["empty"] is True
    assert _state(runtime, draft) == ({}, 0)
    Worker(runtime.db).run_until_idle()

    others = client.post("/api/v1/me/erasure", json={"application": draft}, headers=people.headers("citizen2"))
    assert others.status_code == 404  # only one's own
    officer = client.post("/api/v1/me/erasure", json={"application": decided}, headers=people.headers("a_secretary"))
    assert officer.status_code == 404


def test_the_page_erases_a_draft_and_explains_what_cannot_go(client: TestClient, people: People, runtime: Runtime) -> None:
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(), submit=False)["number"]
    decided = approved_birth(client, people)["number"]
    sign_in(client, people, "citizen1")
    page = client.get("/my/data/erase")
    assert page.status_code == 200
    assert "law requires the local body to keep" in page.text and decided in page.text
    csrf = csrf_of(page.text)
    refused = client.post("/my/data/erase", data={"csrf_token": csrf, "application": decided})
    assert refused.status_code == 409 and "cannot be erased" in refused.text
    done = client.post("/my/data/erase", data={"csrf_token": csrf, "application": draft}, follow_redirects=False)
    assert done.status_code == 303
    assert "is erased" in client.get(done.headers["location"]).text
    assert _state(runtime, draft) == ({}, 0)


@pytest.mark.parametrize(
    ("lang", "title"),
    [("ml", "എന്റെ വിവരങ്ങൾ മായ്ക്കുക"), ("kn", "ನನ್ನ ಮಾಹಿತಿಯನ್ನು ಅಳಿಸಿ"), ("hi", "मेरा डेटा मिटाएँ"), ("ur", "میرا ڈیٹا مٹائیں")],
)
def test_the_erasure_page_in_each_language(client: TestClient, people: People, lang: str, title: str) -> None:
    sign_in(client, people, "citizen1")
    page = client.get("/my/data/erase", headers={"Accept-Language": lang})
    assert page.status_code == 200 and title in page.text

"""Privacy notices and the record of processing, made from the loaded packs."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from nagara.catalog import service as catalog
from tests.applications.helpers import apply, birth_form
from tests.conftest import People
from tests.officer.helpers import sign_in

NOTICE = re.compile(r'<details class="privacy-notice"( open)?>')


def notice_state(html: str) -> str:
    found = NOTICE.search(html)
    assert found, "the form page has no privacy notice"
    return "open" if found.group(1) else "closed"


def test_the_notice_is_open_before_the_first_application_of_a_service(client: TestClient, people: People) -> None:
    sign_in(client, people, "citizen2")
    first = client.get(f"/apply/{people.body_a}/birth-registration")
    assert first.status_code == 200
    assert notice_state(first.text) == "open"
    for item in ("Mother&#39;s name", "Hospital birth report", "Your mobile number", "section 7(b)", "Section clerk"):
        assert item in first.text, item
    assert first.text.index('class="privacy-notice"') < first.text.index('<form method="post" action="/apply/')

    apply(client, people, "citizen2", people.body_a, "birth-registration", birth_form(), submit=False)
    again = client.get(f"/apply/{people.body_a}/birth-registration")
    assert notice_state(again.text) == "closed"  # still there, folded: they have applied before
    other = client.get(f"/apply/{people.body_a}/death-registration")
    assert notice_state(other.text) == "open"  # another purpose, another first time


def test_the_notice_stands_alone_without_signing_in(client: TestClient, people: People) -> None:
    page = client.get(f"/privacy/notices/{people.body_a}/birth-registration")
    assert page.status_code == 200
    assert "Privacy notice: Birth registration" in page.text
    assert "https://www.dpb.gov.in" in page.text
    service_page = client.get(f"/services/{people.body_a}/birth-registration")
    assert service_page.status_code == 200
    assert f'href="/privacy/notices/{people.body_a}/birth-registration"' in service_page.text


@pytest.mark.parametrize(
    ("lang", "heading"), [("ml", "സ്വകാര്യതാ അറിയിപ്പ്"), ("kn", "ಗೌಪ್ಯತಾ ಸೂಚನೆ"), ("hi", "गोपनीयता सूचना"), ("ur", "رازداری نوٹس")]
)
def test_the_notice_in_each_language(client: TestClient, people: People, lang: str, heading: str) -> None:
    page = client.get(f"/privacy/notices/{people.body_a}/birth-registration", headers={"Accept-Language": lang})
    assert page.status_code == 200
    assert heading in page.text
    assert "What is collected" not in page.text and "How long it is kept" not in page.text


def test_the_record_of_processing_lists_every_service_of_the_pack(client: TestClient, people: People) -> None:
    page = client.get("/privacy/record-of-processing/kl")
    assert page.status_code == 200
    with people.runtime.db.unit_of_work(readonly=True) as s:
        services = catalog.list_services(s, "kl")
    assert services
    rows = re.findall(r'<th scope="row">', page.text)
    assert len(rows) == len(services) + 1  # and signing in
    for svc in services:
        assert svc.definition["name"]["en"] in page.text
    assert "Mother&#39;s name" in page.text and "Legitimate use, section 7(b)" in page.text
    index = client.get("/privacy/record-of-processing")
    assert 'href="/privacy/record-of-processing/kl"' in index.text and 'href="/privacy/record-of-processing/ka"' in index.text
    assert client.get(f"/privacy/record-of-processing/{people.body_a}").status_code == 404
    assert client.get("/privacy/record-of-processing/zz").status_code == 404

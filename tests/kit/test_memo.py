"""The unit of work's memo: answers without a query, never about rows a rollback removed."""

from __future__ import annotations

from nagara.kit.db import memo
from nagara.runtime import Runtime


def test_a_savepoint_rolled_back_empties_the_memo(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        memo(session)["written"] = ["a step"]
        savepoint = session.begin_nested()
        memo(session)["written"].append("a step the savepoint will undo")
        savepoint.rollback()
        assert memo(session) == {}  # what it named may be gone: readers query again


def test_each_unit_of_work_starts_with_an_empty_memo(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        memo(session)["written"] = ["a step"]
    with runtime.db.unit_of_work() as session:
        assert memo(session) == {}

"""The outbox runner: at least once, idempotent handlers, retries with backoff, crash safety."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nagara.app import create_app
from nagara.kit.db import Database, clock_set_to, make_engine, try_single_runner, utcnow
from nagara.kit.settings import Settings
from nagara.runtime import Runtime, build_runtime
from nagara.worker import registry
from nagara.worker.models import Job
from nagara.worker.registry import enqueue
from nagara.worker.runner import Worker, backoff_seconds
from nagara.worker.tasks import prune
from tests.conftest import ROOT, DatabaseFactory
from tests.worker.jobs import handled_count


@pytest.fixture
def committed(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Runtime]:
    """A database of its own whose commits are real, for tests that kill processes."""
    url = db_factory.new_url()
    rt = build_runtime(Settings(env="test", database_url=url, var_dir=tmp_path, worker_embedded=False))
    yield rt
    rt.db.dispose()


def run_child(url: str, mode: str, key: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.worker.child", url, mode, key],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode


def test_a_job_enqueued_with_a_change_runs_after_commit(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        enqueue(s, "test.record", {"key": "k1"})
    assert Worker(runtime.db).run_until_idle() == 1
    with runtime.db.unit_of_work() as s:
        assert handled_count(s, "k1") == 1
        job = s.scalar(select(Job).where(Job.name == "test.record"))
        assert job is not None
        assert job.status == "done"


def test_a_rolled_back_change_sends_no_job(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.db.unit_of_work() as s:
        enqueue(s, "test.record", {"key": "never"})
        raise RuntimeError("the change fails")
    assert Worker(runtime.db).run_until_idle() == 0


def test_failures_are_retried_with_backoff_then_parked(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as s:
        job = enqueue(s, "test.record", {"key": "bad", "fail": True}, max_attempts=3)
        s.flush()
        job_id = job.id
    worker = Worker(runtime.db)
    for attempt in range(1, 4):
        assert worker.run_until_idle() == 0
        with runtime.db.unit_of_work() as s:
            job = s.get(Job, job_id)
            assert job is not None
            assert job.attempts == attempt
            assert "failed on purpose" in (job.last_error or "")
            if attempt < 3:
                assert job.status == "pending"
                assert job.run_after > utcnow()  # backed off
                job.run_after = utcnow()  # let the test go on without waiting
            else:
                assert job.status == "dead"
    assert 1 <= backoff_seconds(1) <= 2
    assert backoff_seconds(30) <= 3600


def test_unknown_job_names_are_refused_at_enqueue(runtime: Runtime) -> None:
    with pytest.raises(KeyError, match="no job handler"), runtime.db.unit_of_work() as s:
        enqueue(s, "no.such.job", {})


def test_schedules_run_once_per_slot_across_workers(runtime: Runtime) -> None:
    registry.every(3600, "test.single", {"key": "scheduled"})
    try:
        Worker(runtime.db, worker_id="w1").schedule_due()
        Worker(runtime.db, worker_id="w2").schedule_due()
        with runtime.db.unit_of_work() as s:
            assert s.scalar(select(func.count()).select_from(Job).where(Job.name == "test.single")) == 1
    finally:
        del registry.SCHEDULES["test.single"]


def test_a_crash_between_commit_and_handling_loses_no_message(committed: Runtime) -> None:
    url = committed.settings.database_url
    assert run_child(url, "enqueue-and-die", "survivor") == 9
    with committed.db.unit_of_work() as s:
        assert handled_count(s, "survivor") == 0
    assert Worker(committed.db).run_until_idle() == 1
    with committed.db.unit_of_work() as s:
        assert handled_count(s, "survivor") == 1


def test_a_worker_dying_mid_job_hands_it_on_when_its_lease_ends(committed: Runtime, tmp_path: Path) -> None:
    flag = tmp_path / "crashed"
    with committed.db.unit_of_work() as s:
        enqueue(s, "test.record", {"key": "orphan", "crash_once": str(flag)})
    assert run_child(committed.settings.database_url, "work-and-die", "orphan") == 9
    assert flag.exists()
    with committed.db.unit_of_work() as s:
        job = s.scalar(select(Job).where(Job.name == "test.record"))
        assert job is not None
        assert job.status == "running"
        assert job.locked_by == "doomed"
        assert job.locked_until is not None
        lease_ends = job.locked_until
    # The other worker looks just before and just after the lease's end, on the code's one clock
    # (a real wait would depend on how fast a loaded machine starts the child and reads its row).
    with clock_set_to(lease_ends - timedelta(seconds=1)):
        assert Worker(committed.db, worker_id="w2").run_until_idle() == 0  # the lease still holds
    with clock_set_to(lease_ends + timedelta(seconds=1)):
        assert Worker(committed.db, worker_id="w2").run_until_idle() == 1
    with committed.db.unit_of_work() as s:
        assert handled_count(s, "orphan") == 1


def test_single_runner_jobs_never_run_side_by_side(committed: Runtime) -> None:
    """Two workers, two claimed copies of a single-runner job: while one holds the lock the other waits."""
    if committed.db.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite every writing transaction is already exclusive (BEGIN IMMEDIATE)")

    other = Database(make_engine(committed.settings.database_url))
    with committed.db.unit_of_work() as first:
        assert try_single_runner(first, "test.single")
        with other.unit_of_work() as second:
            assert not try_single_runner(second, "test.single")
    with other.unit_of_work() as second:
        assert try_single_runner(second, "test.single")  # released at commit
    other.dispose()


def test_the_server_runs_jobs_itself_in_embedded_mode(committed: Runtime) -> None:

    with committed.db.unit_of_work() as s:
        enqueue(s, "test.record", {"key": "embedded"})
    with TestClient(create_app(runtime=committed, start_worker=True)):
        deadline = time.time() + 20
        while time.time() < deadline:
            with committed.db.unit_of_work() as s:
                if handled_count(s, "embedded"):
                    break
            time.sleep(0.1)
    with committed.db.unit_of_work() as s:
        assert handled_count(s, "embedded") == 1


def test_finished_jobs_are_pruned_after_a_day(runtime: Runtime) -> None:

    with runtime.db.unit_of_work() as s:
        old = enqueue(s, "test.record", {"key": "old"})
        recent = enqueue(s, "test.record", {"key": "recent"})
        pending = enqueue(s, "test.record", {"key": "pending"})
        s.flush()
        old.status, old.finished_at = "done", utcnow() - timedelta(days=2)
        recent.status, recent.finished_at = "done", utcnow() - timedelta(hours=1)
        ids = (old.id, recent.id, pending.id)
    with runtime.db.unit_of_work() as s:
        prune(s, {})
    with runtime.db.unit_of_work() as s:
        assert [s.get(Job, i) is not None for i in ids] == [False, True, True]

"""A small, tested outbox runner that works the same on SQLite and PostgreSQL.

Why our own: the established PostgreSQL queues (procrastinate, pgqueuer) do not
run on SQLite, and the embedded mode must. The runner is at-least-once: a job
is claimed with a lease; if its process dies, the lease runs out and another
worker takes it again.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from nagara.kit import context
from nagara.kit.db import Database, insert_ignoring_conflict, try_single_runner, utcnow
from nagara.kit.metrics import JOBS
from nagara.worker import registry
from nagara.worker.models import Job

log = logging.getLogger("nagara.worker")


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8 ... seconds, at most an hour."""
    base: float = min(2.0**attempts, 3600.0)
    return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


class Worker:
    def __init__(self, db: Database, *, worker_id: str | None = None, lease_seconds: float = 60.0, batch: int = 20) -> None:
        self.db = db
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch

    def schedule_due(self) -> None:
        """Insert this time slot's run of every schedule; the unique key makes that once across workers."""
        if not registry.SCHEDULES:
            return
        now = utcnow()
        with self.db.unit_of_work() as session:
            for sched in registry.SCHEDULES.values():
                slot = int(now.timestamp()) // sched.every_seconds
                insert_ignoring_conflict(
                    session,
                    Job.__table__,
                    {
                        "name": sched.name,
                        "payload": sched.payload,
                        "dedupe_key": f"schedule:{sched.name}:{slot}",
                        "status": "pending",
                        "attempts": 0,
                        "max_attempts": 1,
                        "run_after": now,
                        "created_at": now,
                    },
                )

    def claim(self) -> list[Claimed]:
        now = utcnow()
        with self.db.unit_of_work() as session:
            ready = or_(
                and_(Job.status == "pending", Job.run_after <= now),
                and_(Job.status == "running", Job.locked_until < now),
            )
            ids = list(
                session.scalars(select(Job.id).where(ready).order_by(Job.id).limit(self.batch).with_for_update(skip_locked=True))
            )
            if not ids:
                return []
            session.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(status="running", locked_by=self.id, locked_until=now + self.lease, attempts=Job.attempts + 1)
            )
            rows = session.execute(
                select(Job.id, Job.name, Job.payload, Job.attempts, Job.max_attempts).where(Job.id.in_(ids)).order_by(Job.id)
            ).all()
            return [Claimed(r.id, r.name, dict(r.payload), r.attempts, r.max_attempts) for r in rows]

    def handle(self, claimed: Claimed) -> bool:
        """Run one claimed job. True when it completed."""
        handler = registry.HANDLERS.get(claimed.name)
        token = context.set_context(context.ActorContext(actor_kind="system", via="worker", request_id=f"job-{claimed.id}"))
        try:
            if handler is None:
                raise LookupError(f"no handler registered for job {claimed.name!r}")
            with self.db.unit_of_work() as session:
                job = session.get(Job, claimed.id)
                if job is None or job.locked_by != self.id or job.status != "running":
                    return False  # our lease ran out and another worker took it
                if claimed.name in registry.SINGLE_RUNNER and not try_single_runner(session, claimed.name):
                    job.status = "pending"
                    job.attempts -= 1
                    job.run_after = utcnow() + timedelta(seconds=1)
                    return False
                handler(session, claimed.payload)
                job.status = "done"
                job.finished_at = utcnow()
                job.locked_until = None
            JOBS.labels(claimed.name, "done").inc()
            return True
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then parked
            log.warning("job %s (%s) failed on attempt %s: %r", claimed.id, claimed.name, claimed.attempts, exc)
            JOBS.labels(claimed.name, "failed").inc()
            with self.db.unit_of_work() as session:
                job = session.get(Job, claimed.id)
                if job is not None and job.locked_by == self.id:
                    job.last_error = repr(exc)[:4000]
                    job.locked_until = None
                    if job.attempts >= job.max_attempts:
                        job.status = "dead"
                        job.finished_at = utcnow()
                    else:
                        job.status = "pending"
                        job.run_after = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
            return False
        finally:
            context.reset_context(token)

    def run_once(self) -> int:
        """Schedule what is due, then claim and handle one batch. Returns jobs completed."""
        self.schedule_due()
        return sum(1 for claimed in self.claim() if self.handle(claimed))

    def run_until_idle(self, max_rounds: int = 100) -> int:
        done = 0
        for _ in range(max_rounds):
            claimed = self.claim()
            if not claimed:
                break
            done += sum(1 for c in claimed if self.handle(c))
        return done

    def run_forever(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        log.info("worker %s started", self.id)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker round failed")
                busy = 0
            if not busy:
                stop.wait(poll_seconds)
        log.info("worker %s stopped", self.id)
